"""Per-interval increments of Prometheus counters, with counter resets.

A counter only goes up, except when its process restarts and it starts again
at zero. Summed naively (``end - start``) a restart produces a huge negative
increment; ``increase()`` in PromQL extrapolates to the window's edges and
yields non-integer counts. Here we replay the raw samples the way Prometheus's
``resets`` logic does, but without extrapolation, so consecutive intervals tile
exactly: whatever one interval counts, the next one does not.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence

Point = tuple[float, float]  # (timestamp_s, counter value)


def counter_increase(
    points: Sequence[Point],
    start_ts: float,
    end_ts: float,
    staleness_s: float,
    resets: Collection[float] = (),
) -> float | None:
    """Increase of one counter series over ``(start_ts, end_ts]``.

    ``points`` are raw samples sorted by time. The base is the last sample at
    or before ``start_ts``; a series without one was born during the interval
    and starts from zero. A sample lower than its predecessor is a reset: the
    increment is the new value (what was counted since the restart).

    ``resets`` are scrape timestamps at which the process is known to have
    restarted (see :func:`reset_times`): a sample there counts from zero even
    if it is not lower than its predecessor.

    Returns ``None`` when the series has no sample within ``staleness_s`` of
    ``end_ts``: it is absent or stale, which is no data, not zero.
    """
    base = 0.0
    last_ts = -math.inf
    seen_in_window: list[tuple[float, float]] = []
    for ts, value in points:
        if math.isnan(value):
            continue
        if ts <= start_ts:
            base = value
        elif ts <= end_ts:
            seen_in_window.append((ts, value))
            last_ts = ts
    if not seen_in_window or last_ts < end_ts - staleness_s:
        return None
    total = 0.0
    previous = base
    for ts, value in seen_in_window:
        total += value if value < previous or ts in resets else value - previous
        previous = value
    return total


def reset_times(
    series: Iterable[Sequence[Point]], start_ts: float, end_ts: float
) -> frozenset[float]:
    """Scrape timestamps in ``(start_ts, end_ts]`` at which *any* counter of
    one process went down: the process restarted, so *all* its counters did.

    Checked per series alone, a restart goes unnoticed in a counter that
    happens to count more after the restart than it had before (a rarely
    hit histogram bucket, an error code): its increment would then be too
    small, the histogram inconsistent with its ``+Inf`` bucket, and a healthy
    canary would look slow. One restart time for the whole process fixes it.
    """
    times: set[float] = set()
    for points in series:
        previous: float | None = None
        for ts, value in points:
            if math.isnan(value) or ts > end_ts:
                continue
            if previous is not None and value < previous and ts > start_ts:
                times.add(ts)
            previous = value
    return frozenset(times)


def sum_increases(
    series: Iterable[Sequence[Point]],
    start_ts: float,
    end_ts: float,
    staleness_s: float,
    resets: Collection[float] = (),
) -> float | None:
    """Sum of :func:`counter_increase` over several series (codes, buckets) of
    one process; ``None`` when every series is absent or stale."""
    total = 0.0
    found = False
    for points in series:
        increase = counter_increase(points, start_ts, end_ts, staleness_s, resets)
        if increase is not None:
            total += increase
            found = True
    return total if found else None


def parse_le(text: str) -> float:
    """A Prometheus ``le`` label value as seconds (``+Inf`` → ``math.inf``)."""
    value = float(text)
    if math.isnan(value) or value < 0:
        raise ValueError(f"invalid le {text!r}")
    return value


def cumulative_buckets(increments_by_le: dict[float, float]) -> tuple[tuple[float, int], ...]:
    """Bucket increments keyed by ``le`` as a sorted, rounded, non-decreasing
    cumulative histogram. Resets landing between the scrapes of different
    buckets can make a cumulative count dip below its predecessor; clamping
    keeps ``exceedances = total - count(le)`` non-negative."""
    out: list[tuple[float, int]] = []
    running = 0
    for le in sorted(increments_by_le):
        running = max(running, round(increments_by_le[le]))
        out.append((le, running))
    return tuple(out)
