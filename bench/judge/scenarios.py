"""Labelled synthetic canary scenarios, generated vectorised over seeds.

World model (documented so the numbers can be argued with): 50 requests/s in
total, 60 s evaluation intervals, 60 min horizon. Requests split between the
arms by the canary weight (binomial routing). Baseline error rate 1%; latency
log-normal with median 40 ms and σ = 0.5 (p99 ≈ 130 ms), recorded in the demo
app's buckets. Before the canary starts, the judge sees 10 min of baseline
histogram to choose its latency thresholds, as a live rollout would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from engines.metrics.increments import counter_increase, reset_times

INTERVAL_S = 60
HORIZON = 60  # intervals
TOTAL_RPS = 50.0
BASE_ERROR_RATE = 0.01
LATENCY_MEDIAN_S = 0.040
LATENCY_SIGMA = 0.5
BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, math.inf)
REFERENCE_MINUTES = 10


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str  # healthy | regression | no_data
    weight_pct: float = 5.0
    weight_steps: tuple[tuple[int, float], ...] = ()  # (from interval, weight)
    error_mult: float = 1.0
    latency_shift_s: float = 0.0
    tail_fraction: float = 0.0
    tail_extra_s: float = 0.0
    onset: int = 0  # interval index where the regression starts
    overdispersion_k: float | None = None  # gamma shape of per-arm error-rate noise
    latency_jitter_sd: float = 0.0  # per-arm, per-interval log-median jitter
    baseline_incident: bool = False
    shared_incident: bool = False
    counter_resets: float = 0.0  # probability per interval that the canary restarts
    canary_missing_from: int | None = None
    source_down_from: int | None = None
    canary_zero_requests: bool = False
    model_conforming: bool = False
    notes: str = ""
    target: dict = field(default_factory=dict)

    def weight_at(self, t: int) -> float:
        weight = self.weight_pct
        for start, value in self.weight_steps:
            if t >= start:
                weight = value
        return weight


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("healthy 5%", "healthy", model_conforming=True, notes="Poisson noise only"),
    Scenario(
        "healthy 5% overdispersed",
        "healthy",
        overdispersion_k=4.0,
        latency_jitter_sd=0.05,
        notes="per-arm gamma(k=4) error-rate noise, 5% latency jitter",
    ),
    Scenario("healthy 1% (low traffic)", "healthy", weight_pct=1.0, model_conforming=True),
    Scenario(
        "healthy weight steps 5→50%",
        "healthy",
        weight_steps=((10, 10.0), (20, 25.0), (30, 50.0)),
        model_conforming=True,
    ),
    Scenario("healthy + baseline-only incident", "healthy", baseline_incident=True),
    Scenario("healthy + shared incident", "healthy", shared_incident=True),
    Scenario(
        "healthy + canary counter resets",
        "healthy",
        counter_resets=0.05,
        notes="the canary restarts in 5% of intervals; counts before the restart are lost",
    ),
    Scenario("errors 1.5x @5%", "regression", error_mult=1.5),
    Scenario("errors 2x @5%", "regression", error_mult=2.0),
    Scenario("errors 5x @5%", "regression", error_mult=5.0),
    Scenario("errors 1.5x @1%", "regression", weight_pct=1.0, error_mult=1.5),
    Scenario("errors 2x @1%", "regression", weight_pct=1.0, error_mult=2.0),
    Scenario("errors 5x @1%", "regression", weight_pct=1.0, error_mult=5.0),
    Scenario("latency +50ms @5%", "regression", latency_shift_s=0.050),
    Scenario(
        "latency tail-only @5%",
        "regression",
        tail_fraction=0.03,
        tail_extra_s=0.4,
        notes="3% of canary requests +400 ms; p50 unchanged",
    ),
    Scenario("errors 5x late onset (12m) @5%", "regression", error_mult=5.0, onset=12),
    Scenario("no data: canary series absent", "no_data", canary_missing_from=0),
    Scenario("no data: source down", "no_data", source_down_from=0),
    Scenario("no data: source lost after 5m", "no_data", source_down_from=5),
    Scenario("no data: crash-looping canary", "no_data", canary_zero_requests=True),
)


@dataclass
class Batch:
    """One scenario's data for S seeds over T intervals (B latency buckets)."""

    scenario: Scenario
    weight: np.ndarray  # (T,)
    req: dict[str, np.ndarray]  # arm -> (S, T)
    err: dict[str, np.ndarray]  # arm -> (S, T)
    buckets: dict[str, np.ndarray]  # arm -> (S, T, B) cumulative by le
    present: dict[str, np.ndarray]  # arm -> (T,) bool
    reference: np.ndarray  # (S, B) baseline histogram before the canary
    bad: np.ndarray  # (S, T) canary requests hurt by the regression


def _phi(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, |error| < 1.5e-7)."""
    x = np.abs(z) / math.sqrt(2)
    t = 1 / (1 + 0.3275911 * x)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = 1 - poly * np.exp(-x * x)
    return 0.5 * (1 + np.sign(z) * erf)


def _latency_cdf(
    log_median: np.ndarray, shift_s: float, tail_f: float, tail_s: float
) -> np.ndarray:
    """P(latency <= le) for every finite le: (S, B) (last column 1 for +Inf)."""
    cols = []
    for le in BUCKETS_S:
        if math.isinf(le):
            cols.append(np.ones_like(log_median))
            continue
        main = le - shift_s
        p = _phi((math.log(main) - log_median) / LATENCY_SIGMA) if main > 0 else 0 * log_median
        if tail_f:
            tail = le - shift_s - tail_s
            q = _phi((math.log(tail) - log_median) / LATENCY_SIGMA) if tail > 0 else 0 * log_median
            p = (1 - tail_f) * p + tail_f * q
        cols.append(p)
    return np.stack(cols, axis=-1)


def _sample_histogram(rng: np.random.Generator, n: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """Cumulative bucket counts of n requests (S,) under per-seed cdf (S, B)."""
    probs = np.diff(np.concatenate([np.zeros((cdf.shape[0], 1)), cdf], axis=1), axis=1)
    probs = np.clip(probs, 0, 1)
    remaining = n.astype(np.int64).copy()
    rest = np.ones(cdf.shape[0])
    counts = np.zeros_like(probs, dtype=np.int64)
    for b in range(probs.shape[1] - 1):
        p = np.where(rest > 1e-12, np.clip(probs[:, b] / np.maximum(rest, 1e-12), 0, 1), 0)
        counts[:, b] = rng.binomial(remaining, p)
        remaining -= counts[:, b]
        rest -= probs[:, b]
    counts[:, -1] = remaining
    return np.cumsum(counts, axis=1)


def generate(scenario: Scenario, seeds: int, rng: np.random.Generator) -> Batch:
    s, horizon, nb = seeds, HORIZON, len(BUCKETS_S)
    per_interval = TOTAL_RPS * INTERVAL_S
    base_log_median = np.full(s, math.log(LATENCY_MEDIAN_S))
    reference = _sample_histogram(
        rng,
        rng.poisson(per_interval * REFERENCE_MINUTES, s),
        _latency_cdf(base_log_median, 0.0, 0.0, 0.0),
    )
    req = {a: np.zeros((s, horizon), np.int64) for a in ("canary", "baseline")}
    err = {a: np.zeros((s, horizon), np.int64) for a in ("canary", "baseline")}
    bkt = {a: np.zeros((s, horizon, nb), np.int64) for a in ("canary", "baseline")}
    bad = np.zeros((s, horizon), np.int64)
    weight = np.array([scenario.weight_at(t) for t in range(horizon)])
    incident_start = rng.integers(10, 50, s)
    for t in range(horizon):
        total = rng.poisson(per_interval, s)
        if scenario.canary_zero_requests:
            n_c = np.zeros(s, np.int64)
        else:
            n_c = rng.binomial(total, weight[t] / 100)
        n_b = total - n_c
        regressed = t >= scenario.onset
        for arm, n in (("canary", n_c), ("baseline", n_b)):
            p = np.full(s, BASE_ERROR_RATE)
            if scenario.overdispersion_k:
                k = scenario.overdispersion_k
                p = p * rng.gamma(k, 1 / k, s)
            in_incident = (t >= incident_start) & (t < incident_start + 5)
            if scenario.shared_incident or (scenario.baseline_incident and arm == "baseline"):
                p = np.where(in_incident, p * 5, p)
            if arm == "canary" and regressed:
                p = p * scenario.error_mult
            errors = rng.binomial(n, np.clip(p, 0, 1))
            log_median = base_log_median
            if scenario.latency_jitter_sd:
                log_median = log_median + rng.normal(0, scenario.latency_jitter_sd, s)
            is_bad_arm = arm == "canary" and regressed
            cdf = _latency_cdf(
                log_median,
                scenario.latency_shift_s if is_bad_arm else 0.0,
                scenario.tail_fraction if is_bad_arm else 0.0,
                scenario.tail_extra_s,
            )
            hist = _sample_histogram(rng, n, cdf)
            if is_bad_arm:
                if scenario.error_mult > 1:
                    bad[:, t] = errors
                elif scenario.latency_shift_s:
                    bad[:, t] = n
                elif scenario.tail_fraction:
                    bad[:, t] = rng.binomial(n, scenario.tail_fraction)
            req[arm][:, t], err[arm][:, t], bkt[arm][:, t] = n, errors, hist
    if scenario.counter_resets:
        _apply_counter_resets(rng, scenario.counter_resets, req, err, bkt)
    present = {a: np.ones(horizon, bool) for a in ("canary", "baseline")}
    if scenario.canary_missing_from is not None:
        present["canary"][scenario.canary_missing_from :] = False
    if scenario.source_down_from is not None:
        present["canary"][scenario.source_down_from :] = False
        present["baseline"][scenario.source_down_from :] = False
    return Batch(scenario, weight, req, err, bkt, present, reference, bad)


def _apply_counter_resets(
    rng: np.random.Generator,
    probability: float,
    req: dict[str, np.ndarray],
    err: dict[str, np.ndarray],
    bkt: dict[str, np.ndarray],
) -> None:
    """The canary process restarts mid-interval: its counters start again at 0
    and what it counted before the restart in that interval is never scraped.
    The cumulative counters are rebuilt and reduced back to increments by the
    engines' reset-aware ``counter_increase``, the code live sources use."""
    s, horizon = req["canary"].shape
    restarts = rng.random((s, horizon)) < probability
    kept = rng.random((s, horizon))  # share of the interval after the restart
    for i in range(s):
        cum_req = cum_err = 0.0
        cum_bkt = np.zeros(bkt["canary"].shape[2])
        for t in range(horizon):
            n, e, h = req["canary"][i, t], err["canary"][i, t], bkt["canary"][i, t]
            if restarts[i, t]:
                e_after = rng.binomial(e, kept[i, t])
                ok_after = rng.binomial(n - e, kept[i, t])
                per_bucket = np.diff(np.concatenate([[0], h]))
                h_after = np.cumsum(rng.binomial(per_bucket, kept[i, t]))
                new = (float(ok_after + e_after), float(e_after), h_after)
                prev = (cum_req, cum_err, cum_bkt)
                cum_req, cum_err, cum_bkt = new[0], new[1], new[2].astype(float)
            else:
                prev = (cum_req, cum_err, cum_bkt)
                cum_req, cum_err, cum_bkt = cum_req + n, cum_err + e, cum_bkt + h
            start, end = t * INTERVAL_S, (t + 1) * INTERVAL_S
            series = [[(start, prev[0]), (end, cum_req)], [(start, prev[1]), (end, cum_err)]]
            series += [[(start, a), (end, b)] for a, b in zip(prev[2], cum_bkt, strict=True)]
            resets = reset_times(series, start, end)
            values = [counter_increase(p, start, end, INTERVAL_S, resets) for p in series]
            req["canary"][i, t], err["canary"][i, t] = round(values[0]), round(values[1])
            bkt["canary"][i, t] = [round(v) for v in values[2:]]
