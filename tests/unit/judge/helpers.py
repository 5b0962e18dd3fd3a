"""Small builders for judge tests (stdlib random; no numpy at test time)."""

from __future__ import annotations

import math
import random

from engines.metrics.records import ArmSample, IntervalSample

LES = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, math.inf)


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p < limit:
            return k
        k += 1


def binomial(rng: random.Random, n: int, p: float) -> int:
    if n * p > 50 and n * (1 - p) > 50:
        return min(n, max(0, round(rng.gauss(n * p, math.sqrt(n * p * (1 - p))))))
    if n * p < 50:
        return min(n, poisson(rng, n * p))
    return n - min(n, poisson(rng, n * (1 - p)))


def buckets(rng: random.Random, n: int, slow_share: float, tail_share: float = 0.0):
    """A histogram where ``slow_share`` of requests exceed 50 ms and
    ``tail_share`` exceed 250 ms (cumulative by le)."""
    slow = binomial(rng, n, slow_share)
    tail = binomial(rng, slow, tail_share / slow_share) if slow_share else 0
    fast = n - slow
    out = []
    for le in LES:
        if le < 0.05:
            count = fast // 5 if le == 0.025 else fast // 10 if le == 0.01 else 0
        elif le < 0.25:
            count = fast + (slow - tail) // 2 if le == 0.1 else fast
        elif math.isinf(le):
            count = n
        else:
            count = n - tail
        out.append((le, count))
    return tuple(out)


def interval(
    rng: random.Random,
    look: int,
    *,
    canary_requests: float = 150,
    baseline_requests: float = 2850,
    canary_error_rate: float = 0.01,
    baseline_error_rate: float = 0.01,
    canary_slow: float = 0.35,
    baseline_slow: float = 0.35,
    canary_tail: float = 0.01,
    baseline_tail: float = 0.01,
    weight_pct: float | None = 5.0,
    canary_missing: bool = False,
    baseline_missing: bool = False,
) -> IntervalSample:
    def arm(mean, error_rate, slow, tail):
        n = poisson(rng, mean)
        return ArmSample(n, binomial(rng, n, error_rate), buckets(rng, n, slow, tail))

    return IntervalSample(
        start_ts=look * 60.0,
        interval_s=60.0,
        weight_pct=weight_pct,
        baseline=None
        if baseline_missing
        else arm(baseline_requests, baseline_error_rate, baseline_slow, baseline_tail),
        canary=None
        if canary_missing
        else arm(canary_requests, canary_error_rate, canary_slow, canary_tail),
        reason="not scraped" if canary_missing or baseline_missing else None,
    )


def reference(rng: random.Random) -> tuple[tuple[float, int], ...]:
    return buckets(rng, 30000, 0.35, 0.01)
