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
from collections.abc import Iterable, Sequence

Point = tuple[float, float]  # (timestamp_s, counter value)


def counter_increase(
    points: Sequence[Point], start_ts: float, end_ts: float, staleness_s: float
) -> float | None:
    """Increase of one counter series over ``(start_ts, end_ts]``.

    ``points`` are raw samples sorted by time. The base is the last sample at
    or before ``start_ts``; a series without one was born during the interval
    and starts from zero. A sample lower than its predecessor is a reset: the
    increment is the new value (what was counted since the restart).

    Returns ``None`` when the series has no sample within ``staleness_s`` of
    ``end_ts``: it is absent or stale, which is no data, not zero.
    """
    base = 0.0
    last_ts = -math.inf
    seen_in_window: list[float] = []
    for ts, value in points:
        if math.isnan(value):
            continue
        if ts <= start_ts:
            base = value
        elif ts <= end_ts:
            seen_in_window.append(value)
            last_ts = ts
    if not seen_in_window or last_ts < end_ts - staleness_s:
        return None
    total = 0.0
    previous = base
    for value in seen_in_window:
        total += value if value < previous else value - previous
        previous = value
    return total


def sum_increases(
    series: Iterable[Sequence[Point]], start_ts: float, end_ts: float, staleness_s: float
) -> float | None:
    """Sum of :func:`counter_increase` over several series (instances, codes);
    ``None`` when every series is absent or stale."""
    total = 0.0
    found = False
    for points in series:
        increase = counter_increase(points, start_ts, end_ts, staleness_s)
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
