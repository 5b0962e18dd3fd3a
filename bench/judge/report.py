"""Summary statistics with 95% confidence intervals, the table, the targets."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bench.judge.judges import FAIL, PASS

Z = 1.959963984540054


def wilson(successes: int, n: int) -> tuple[float, float, float]:
    """Rate and Wilson 95% interval."""
    if n == 0:
        return math.nan, math.nan, math.nan
    p = successes / n
    denom = 1 + Z * Z / n
    centre = (p + Z * Z / (2 * n)) / denom
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / denom
    return p, max(0.0, centre - half), min(1.0, centre + half)


def quantile_ci(values: np.ndarray, q: float) -> tuple[float, float, float]:
    """Sample quantile with a distribution-free 95% interval (order statistics)."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan
    ordered = np.sort(values)
    point = float(np.quantile(ordered, q, method="inverted_cdf"))
    half = Z * math.sqrt(n * q * (1 - q))
    lo = int(max(0, math.floor(n * q - half) - 1))
    hi = int(min(n - 1, math.ceil(n * q + half)))
    return point, float(ordered[lo]), float(ordered[hi])


@dataclass
class Summary:
    scenario: str
    label: str
    judge: str
    seeds: int
    fail: tuple[float, float, float]
    passed: tuple[float, float, float]
    inconclusive: tuple[float, float, float]
    ttd_median_min: tuple[float, float, float]
    ttd_p90_min: tuple[float, float, float]
    detected_within_60: tuple[float, float, float]
    bad_requests: tuple[float, float, float]


def summarise(scenario, judge: str, outcome, decided_at, bad) -> Summary:
    n = len(outcome)
    fails = int((outcome == FAIL).sum())
    passes = int((outcome == PASS).sum())
    none = n - fails - passes
    onset = scenario.onset
    detected = (outcome == FAIL) & (decided_at >= onset)
    ttd = (decided_at[detected] - onset + 1).astype(float)  # minutes, decision at interval end
    horizon = bad.shape[1]
    stop = np.where(outcome != 0, decided_at, horizon - 1)
    served = np.array([bad[i, : stop[i] + 1].sum() for i in range(n)], float)
    mean = served.mean() if n else math.nan
    se = served.std(ddof=1) / math.sqrt(n) if n > 1 else 0.0
    return Summary(
        scenario=scenario.name,
        label=scenario.label,
        judge=judge,
        seeds=n,
        fail=wilson(fails, n),
        passed=wilson(passes, n),
        inconclusive=wilson(none, n),
        ttd_median_min=quantile_ci(ttd, 0.5),
        ttd_p90_min=quantile_ci(ttd, 0.9),
        detected_within_60=wilson(int(detected.sum()), n),
        bad_requests=(mean, mean - Z * se, mean + Z * se),
    )


def _pct(ci: tuple[float, float, float]) -> str:
    p, lo, hi = ci
    if math.isnan(p):
        return "—"
    return f"{100 * p:5.1f}% [{100 * lo:.1f}–{100 * hi:.1f}]"


def _num(ci: tuple[float, float, float], unit: str = "") -> str:
    p, lo, hi = ci
    if math.isnan(p):
        return "—"
    return f"{p:.0f}{unit} [{lo:.0f}–{hi:.0f}]"


def _missed(s: Summary) -> tuple[float, float, float]:
    p, lo, hi = s.fail
    return 1 - p, 1 - hi, 1 - lo


def table(summaries: list[Summary]) -> str:
    """One block per scenario, one row per judge; the columns that matter for
    its label (false rollbacks for healthy, misses for regressions...)."""
    lines = []
    header = (
        f"{'judge':<9} {'fail (rollback)':>22} {'pass (promote)':>22} {'inconclusive':>22}"
        f" {'missed (no fail)':>22} {'TTD median':>14} {'TTD p90':>14} {'bad req served':>16}"
    )
    current = None
    for s in summaries:
        if s.scenario != current:
            current = s.scenario
            meaning = {
                "healthy": "fail = false rollback",
                "regression": "pass = false promote; missed = no rollback in 60 min",
                "no_data": "must never pass",
            }[s.label]
            lines += ["", f"## {s.scenario}  ({s.label}; {meaning}; {s.seeds} seeds)", header]
        regression = s.label == "regression"
        lines.append(
            f"{s.judge:<9} {_pct(s.fail):>22} {_pct(s.passed):>22} {_pct(s.inconclusive):>22}"
            f" {_pct(_missed(s)) if regression else '':>22}"
            f" {_num(s.ttd_median_min, 'm') if regression else '':>14}"
            f" {_num(s.ttd_p90_min, 'm') if regression else '':>14}"
            f" {_num(s.bad_requests) if regression else '':>16}"
        )
    return "\n".join(lines)


def check_targets(summaries: list[Summary]) -> list[tuple[str, bool, str]]:
    """The issue's targets, for shipdeck's judge."""
    ours = {s.scenario: s for s in summaries if s.judge == "shipdeck"}
    out = []

    def add(name: str, ok: bool, measured: str) -> None:
        out.append((name, ok, measured))

    from bench.judge.scenarios import SCENARIOS

    for sc in SCENARIOS:
        s = ours.get(sc.name)
        if s is None:
            continue
        if sc.label == "healthy":
            limit = 0.025 if sc.model_conforming else 0.05
            add(
                f"false rollbacks ≤ {limit:.1%} on {sc.name}",
                s.fail[0] <= limit,
                _pct(s.fail),
            )
        if sc.label == "no_data":
            add(f"never passes: {sc.name}", s.passed[0] == 0, _pct(s.passed))
    if (s := ours.get("errors 2x @5%")) is not None:
        add(
            "2x errors @5% caught ≥ 90% within 60 min",
            s.detected_within_60[0] >= 0.9,
            _pct(s.detected_within_60),
        )
        add(
            "2x errors @5% median time to detect ≤ 20 min",
            s.ttd_median_min[0] <= 20,
            _num(s.ttd_median_min, "m"),
        )
    if (s := ours.get("errors 5x @5%")) is not None:
        add("5x errors @5% detected ≤ 5 min (p90)", s.ttd_p90_min[0] <= 5, _num(s.ttd_p90_min, "m"))
    if (s := ours.get("latency +50ms @5%")) is not None:
        add(
            "+50 ms latency detected ≤ 2 min (p90)", s.ttd_p90_min[0] <= 2, _num(s.ttd_p90_min, "m")
        )
    return out
