"""Latency histograms: quantiles for display, exceedances for the test.

Quantiles interpolated inside a bucket are fine to show a human but not to
test: their sampling distribution is unknown and the interpolation invents
precision the bucket layout does not have. Counting requests slower than a
bucket boundary is exact, and a count is what the rate-ratio e-process tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

Buckets = Sequence[tuple[float, int]]  # ((le_s, cumulative count), ...), sorted, +Inf last


def total(buckets: Buckets) -> int | None:
    """Requests the histogram saw: its ``+Inf`` bucket (None without one)."""
    if not buckets or not math.isinf(buckets[-1][0]):
        return None
    return buckets[-1][1]


def quantile(buckets: Buckets, q: float) -> float | None:
    """``histogram_quantile``: linear interpolation inside the bucket holding the
    q-th request; the lowest bucket starts at 0; a quantile in the ``+Inf``
    bucket is reported as the highest finite boundary (as Prometheus does)."""
    count = total(buckets)
    if count is None or count <= 0 or not 0 <= q <= 1:
        return None
    rank = q * count
    previous_le, previous_count = 0.0, 0
    for le, cumulative in buckets:
        if cumulative >= rank:
            if math.isinf(le):
                return previous_le
            if cumulative == previous_count:
                return le
            return previous_le + (le - previous_le) * (rank - previous_count) / (
                cumulative - previous_count
            )
        previous_le, previous_count = le, cumulative
    return previous_le


def exceedances(buckets: Buckets, threshold_s: float) -> tuple[int, int] | None:
    """``(requests slower than threshold_s, all requests)``, or None when the
    histogram lacks that boundary or its ``+Inf`` bucket."""
    count = total(buckets)
    if count is None:
        return None
    for le, cumulative in buckets:
        if math.isclose(le, threshold_s, rel_tol=1e-9):
            return max(count - cumulative, 0), count
    return None


def add(into: dict[float, int], buckets: Buckets) -> None:
    """Accumulate a histogram into ``into`` (le → cumulative count)."""
    for le, cumulative in buckets:
        into[le] = into.get(le, 0) + cumulative


def as_buckets(counts: dict[float, int]) -> tuple[tuple[float, int], ...]:
    return tuple(sorted(counts.items()))


def choose_thresholds(
    reference: Buckets, quantiles: Iterable[float], *, min_requests: int, floor_s: float = 0.0
) -> list[tuple[float, float]]:
    """Bucket boundaries to count exceedances at, chosen from the baseline's
    histogram before the canary started: for each quantile q, the finite
    boundary whose exceedance share is nearest ``1 - q`` on a log scale (a
    boundary nobody exceeded cannot be tested). Returns ``[(q, le_s)]``; a
    quantile whose boundary a lower quantile already took is dropped (two tests
    of one count would only split alpha). When no request exceeded any finite
    boundary (a service faster than the histogram resolves), the lowest
    boundary is the only threshold: a canary slower than it still shows.
    Empty when the reference has fewer than ``min_requests`` requests.
    Boundaries below ``floor_s`` are never chosen: a regression smaller than
    the floor is scheduling noise, not something worth a rollback."""
    count = total(reference)
    if count is None or count < min_requests:
        return []
    candidates = [
        (le, (count - cumulative) / count)
        for le, cumulative in reference
        if not math.isinf(le) and cumulative < count and le >= floor_s
    ]
    quantiles = list(quantiles)
    if not candidates:
        finite = [le for le, _ in reference if not math.isinf(le) and le >= floor_s]
        return [(quantiles[0], finite[0])] if finite and quantiles else []
    chosen: list[tuple[float, float]] = []
    taken: set[float] = set()
    for q in quantiles:
        if not candidates or not 0 < q < 1:
            continue
        le, _ = min(candidates, key=lambda c: abs(math.log(c[1] / (1 - q))))
        if le not in taken:
            chosen.append((q, le))
            taken.add(le)
    return chosen
