"""The judges compared: shipdeck's e-process judge and three incumbents.

Every judge sees the same per-interval records and answers, per seed, the
look at which it decided and what (pass / fail / none within the horizon).
The incumbents are modelled at their documented defaults:

- Flagger: every 1 m interval, check canary success rate ≥ 99% and p99 ≤
  500 ms; a check without data fails ("no values found"); roll back once
  5 checks failed (``threshold: 5``); promote after 10 intervals (stepWeight
  5 up to maxWeight 50).
- Argo Rollouts: an AnalysisTemplate with ``successCondition: result[0] >=
  0.95`` on the success rate, interval 1 m, count 10; ``failureLimit`` 0 (the
  first failed measurement fails); an empty result is an error and more than
  ``consecutiveErrorLimit`` 4 consecutive errors fail.
- Kayenta (Netflix ACA judge): every interval, all values so far per metric
  (error rate, p50, p99 per interval) compared with a Mann-Whitney test: a
  metric is High when the 95% Hodges-Lehmann interval's lower end exceeds 25%
  of the estimate; score = share of judged metrics not High; below the
  marginal 75 → fail at once; after a 30 min lifetime, ≥ 95 → pass. Metrics
  without data are left out of the score (so no data passes).
"""

from __future__ import annotations

import math

import numpy as np

from bench.judge.scenarios import BUCKETS_S, Batch
from console.core.judge import AnalysisTemplate, Judge, Outcome
from engines.metrics.records import ArmSample, IntervalSample

PASS, FAIL, NONE = 1, -1, 0
JUDGES = ("shipdeck", "flagger", "argo", "kayenta")


def run_shipdeck(batch: Batch, template: AnalysisTemplate) -> tuple[np.ndarray, np.ndarray]:
    seeds, horizon = batch.req["canary"].shape
    outcome = np.zeros(seeds, np.int8)
    decided_at = np.full(seeds, -1, np.int32)
    les = BUCKETS_S
    for i in range(seeds):
        reference = tuple(zip(les, batch.reference[i].tolist(), strict=True))
        judge = Judge(template, baseline_reference=reference)
        for t in range(horizon):
            arms = {}
            for arm in ("canary", "baseline"):
                if not batch.present[arm][t]:
                    arms[arm] = None
                    continue
                arms[arm] = ArmSample.from_increments(
                    int(batch.req[arm][i, t]),
                    int(batch.err[arm][i, t]),
                    tuple(zip(les, batch.buckets[arm][i, t].tolist(), strict=True)),
                )
            verdict = judge.observe(
                IntervalSample(
                    start_ts=t * 60.0,
                    interval_s=60.0,
                    weight_pct=float(batch.weight[t]),
                    baseline=arms["baseline"],
                    canary=arms["canary"],
                    reason=None if arms["canary"] and arms["baseline"] else "not scraped",
                )
            )
            if verdict.overall is Outcome.FAIL:
                outcome[i], decided_at[i] = FAIL, t
                break
            if verdict.overall is Outcome.PASS:
                outcome[i], decided_at[i] = PASS, t
                break
    return outcome, decided_at


def _per_interval_values(batch: Batch, arm: str) -> dict[str, np.ndarray]:
    """Error rate, p50, p99 per seed and interval (NaN without data)."""
    req = batch.req[arm].astype(float)
    present = batch.present[arm][None, :] & (req > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(present, batch.err[arm] / np.maximum(req, 1), np.nan)
    buckets = batch.buckets[arm]
    p50 = _quantile_array(buckets, 0.5)
    p99 = _quantile_array(buckets, 0.99)
    p50[~present] = np.nan
    p99[~present] = np.nan
    return {"error_rate": rate, "p50": p50, "p99": p99}


def _quantile_array(buckets: np.ndarray, q: float) -> np.ndarray:
    """histogram_quantile over (S, T, B) cumulative buckets, vectorised."""
    les = np.array([le if math.isfinite(le) else np.nan for le in BUCKETS_S])
    total = buckets[..., -1].astype(float)
    rank = q * total
    idx = np.argmax(buckets >= rank[..., None], axis=-1)
    upper_count = np.take_along_axis(buckets, idx[..., None], -1)[..., 0].astype(float)
    lower_count = np.where(
        idx > 0, np.take_along_axis(buckets, np.maximum(idx - 1, 0)[..., None], -1)[..., 0], 0
    ).astype(float)
    upper_le = les[idx]
    lower_le = np.where(idx > 0, les[np.maximum(idx - 1, 0)], 0.0)
    width = np.maximum(upper_count - lower_count, 1e-12)
    value = lower_le + (upper_le - lower_le) * (rank - lower_count) / width
    in_inf = ~np.isfinite(upper_le)
    value = np.where(in_inf, les[-2], value)
    return np.where(total > 0, value, np.nan)


def _first(mask: np.ndarray) -> np.ndarray:
    """Index of the first True per row, or -1."""
    any_ = mask.any(axis=1)
    return np.where(any_, np.argmax(mask, axis=1), -1)


def _resolve(fail_at: np.ndarray, pass_at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    big = 10**6
    f = np.where(fail_at >= 0, fail_at, big)
    p = np.where(pass_at >= 0, pass_at, big)
    outcome = np.where(f <= p, np.where(f < big, FAIL, NONE), PASS).astype(np.int8)
    decided = np.where(outcome == FAIL, f, np.where(outcome == PASS, p, -1)).astype(np.int32)
    return outcome, decided


def run_flagger(batch: Batch) -> tuple[np.ndarray, np.ndarray]:
    canary = _per_interval_values(batch, "canary")
    rate, p99 = canary["error_rate"], canary["p99"]
    failed = np.isnan(rate) | (rate > 0.01) | np.isnan(p99) | (p99 > 0.5)
    failed_so_far = np.cumsum(failed, axis=1)
    fail_at = _first(failed_so_far >= 5)
    seeds = rate.shape[0]
    pass_at = np.full(seeds, 9)  # the 10th interval completes the analysis
    pass_at = np.where(failed_so_far[:, 9] < 5, pass_at, -1)
    return _resolve(fail_at, pass_at)


def run_argo(batch: Batch) -> tuple[np.ndarray, np.ndarray]:
    rate = _per_interval_values(batch, "canary")["error_rate"]
    error = np.isnan(rate)
    failed = ~error & (1 - rate < 0.95)
    run = np.zeros_like(error, dtype=np.int32)
    streak = np.zeros(rate.shape[0], np.int32)
    for t in range(rate.shape[1]):
        streak = np.where(error[:, t], streak + 1, 0)
        run[:, t] = streak
    fail_at = _first(failed | (run > 4))
    count = 10
    pass_at = np.where(_first(failed[:, :count] | (run[:, :count] > 4)) < 0, count - 1, -1)
    return _resolve(fail_at, pass_at)


def _hodges_lehmann_high(canary: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """Kayenta's High classification per seed for (S, n) vs (S, m) samples."""
    seeds, n = canary.shape
    m = baseline.shape[1]
    if n < 3 or m < 3:
        return np.zeros(seeds, bool)
    diffs = (canary[:, :, None] - baseline[:, None, :]).reshape(seeds, n * m)
    nm = n * m
    z = 1.959963984540054
    k = int(math.floor(nm / 2 - z * math.sqrt(nm * (n + m + 1) / 12)))
    if k < 1:
        return np.zeros(seeds, bool)
    mid = nm // 2
    kth = sorted({k - 1, mid, nm - k})
    part = np.partition(diffs, kth, axis=1)
    lower = part[:, k - 1]
    estimate = part[:, mid]
    return lower > 0.25 * np.abs(estimate)


def run_kayenta(batch: Batch, lifetime: int = 30) -> tuple[np.ndarray, np.ndarray]:
    canary = _per_interval_values(batch, "canary")
    baseline = _per_interval_values(batch, "baseline")
    seeds, horizon = batch.req["canary"].shape
    fail_at = np.full(seeds, -1)
    pass_at = np.full(seeds, -1)
    undecided = np.ones(seeds, bool)
    for t in range(min(lifetime, horizon)):
        judged = np.zeros(seeds)
        high = np.zeros(seeds)
        for name in ("error_rate", "p50", "p99"):
            c = canary[name][:, : t + 1]
            b = baseline[name][:, : t + 1]
            # Kayenta drops NaN points; our no-data patterns are common to all
            # seeds, so keep the columns where every seed has data
            keep = ~np.isnan(c).any(axis=0) & ~np.isnan(b).any(axis=0)
            if keep.sum() == 0:
                continue
            judged += 1
            high += _hodges_lehmann_high(c[:, keep], b[:, keep])
        score = np.where(judged > 0, 100 * (judged - high) / np.maximum(judged, 1), 100.0)
        newly_failed = undecided & (score < 75)
        fail_at[newly_failed] = t
        undecided &= ~newly_failed
        if t == lifetime - 1:
            passed = undecided & (score >= 95)
            pass_at[passed] = t
            fail_at[undecided & ~passed] = t
            undecided[:] = False
    return _resolve(fail_at, pass_at)
