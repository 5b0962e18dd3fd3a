"""The rate-ratio e-process: anytime validity, monotone bounds, no-data."""

from __future__ import annotations

import math
import random

import pytest

from console.core.judge.eprocess import RateRatioEProcess, RatioGrid

RUNS = 1000
LOOKS = 40


def simulate_shares(rng: random.Random, ratio: float, rho: float, events: int) -> int:
    """Canary events among ``events`` when the canary's rate is ``ratio`` times
    the baseline's and it has ``rho`` of the exposure (the model's binomial)."""
    theta = ratio * rho / (ratio * rho + 1 - rho)
    return sum(rng.random() < theta for _ in range(events))


def run_looks(rng, process, ratio, *, rho=0.05, events=30, exposure=3000):
    for _ in range(LOOKS):
        x = simulate_shares(rng, ratio, rho, events)
        process.update(x, rho * exposure, events - x, (1 - rho) * exposure)
        yield process


def monte_carlo_limit(alpha: float) -> float:
    return alpha + 3 * math.sqrt(alpha * (1 - alpha) / RUNS)


def test_grid_contains_the_decision_thresholds_exactly():
    grid = RatioGrid.build(include=(1.2, 1.5))
    assert 1.2 in grid.ratios and 1.5 in grid.ratios
    assert list(grid.ratios) == sorted(grid.ratios)


def test_fail_side_rejects_a_true_null_at_most_alpha_over_every_look():
    """Null on its boundary (ratio exactly 1.2); checked at all 40 looks."""
    rng = random.Random(11)
    grid = RatioGrid.build(include=(1.2,))
    alpha = 0.1
    rejected = 0
    for _ in range(RUNS):
        process = RateRatioEProcess(grid, alpha_lower=alpha, alpha_upper=alpha)
        if any(p.lower_bound > 1.2 for p in run_looks(rng, process, 1.2)):
            rejected += 1
    assert rejected / RUNS <= monte_carlo_limit(alpha)


def test_pass_side_rejects_a_true_null_at_most_alpha_over_every_look():
    rng = random.Random(12)
    grid = RatioGrid.build(include=(1.5,))
    alpha = 0.1
    rejected = 0
    for _ in range(RUNS):
        process = RateRatioEProcess(grid, alpha_lower=alpha, alpha_upper=alpha)
        if any(p.upper_bound < 1.5 for p in run_looks(rng, process, 1.5, rho=0.2)):
            rejected += 1
    assert rejected / RUNS <= monte_carlo_limit(alpha)


def test_confidence_sequence_covers_the_true_ratio_at_every_look():
    rng = random.Random(13)
    grid = RatioGrid.build()
    alpha = 0.05
    missed = 0
    for _ in range(RUNS // 2):
        process = RateRatioEProcess(grid, alpha_lower=alpha, alpha_upper=alpha)
        if any(not p.lower_bound < 2.0 < p.upper_bound for p in run_looks(rng, process, 2.0)):
            missed += 1
    assert missed / (RUNS // 2) <= 2 * alpha + 3 * math.sqrt(2 * alpha / (RUNS // 2))


def test_bounds_are_monotone_across_looks():
    rng = random.Random(14)
    process = RateRatioEProcess(RatioGrid.build(), alpha_lower=0.05, alpha_upper=0.05)
    lowers, uppers = [], []
    for p in run_looks(rng, process, 1.0, rho=0.3):
        lowers.append(p.lower_bound)
        uppers.append(p.upper_bound)
    assert lowers == sorted(lowers)
    assert uppers == sorted(uppers, reverse=True)
    assert lowers[-1] < 1.0 < uppers[-1]


def test_a_clear_regression_is_bounded_away_from_one():
    rng = random.Random(15)
    process = RateRatioEProcess(RatioGrid.build(), alpha_lower=0.025, alpha_upper=0.05)
    for _ in run_looks(rng, process, 5.0):
        pass
    assert process.lower_bound > 3.0
    assert process.log_evidence_above(1.0) > math.log(40)


def test_an_interval_without_events_leaves_the_evidence_unchanged():
    process = RateRatioEProcess(RatioGrid.build(include=(1.2,)), alpha_lower=0.05, alpha_upper=0.05)
    process.update(5, 150, 20, 2850)
    before = (process.log_evidence_above(1.2), process.lower_bound, process.upper_bound)
    process.update(0, 150, 0, 2850)  # requests but no errors anywhere
    process.update(0, 0, 3, 2850)  # canary served nothing
    assert (process.log_evidence_above(1.2), process.lower_bound, process.upper_bound) == before
    assert process.updates == 1


def test_tempering_with_weight_one_is_the_plain_likelihood():
    grid = RatioGrid.build(include=(1.2,))
    a = RateRatioEProcess(grid, alpha_lower=0.05, alpha_upper=0.05)
    b = RateRatioEProcess(grid, alpha_lower=0.05, alpha_upper=0.05)
    a.update(7, 150, 20, 2850)
    b.update(7, 150, 20, 2850, weight=1.0)
    assert a.log_evidence_above(1.2) == b.log_evidence_above(1.2)


def test_tempering_shrinks_the_evidence():
    grid = RatioGrid.build(include=(1.2,))
    plain = RateRatioEProcess(grid, alpha_lower=0.05, alpha_upper=0.05)
    tempered = RateRatioEProcess(grid, alpha_lower=0.05, alpha_upper=0.05)
    plain.update(12, 150, 20, 2850)
    tempered.update(12, 150, 20, 2850, weight=0.5)
    assert 0 < tempered.log_evidence_above(1.2) < plain.log_evidence_above(1.2)


def test_shared_incident_scaling_both_arms_keeps_the_ratio_estimate():
    """Conditioning on the interval's total: a 5x incident in both arms moves
    neither bound towards a regression."""
    grid = RatioGrid.build(include=(1.2,))
    calm = RateRatioEProcess(grid, alpha_lower=0.05, alpha_upper=0.05)
    incident = RateRatioEProcess(grid, alpha_lower=0.05, alpha_upper=0.05)
    calm.update(2, 150, 28, 2850)
    incident.update(10, 150, 140, 2850)
    assert incident.lower_bound <= 1.0 and calm.lower_bound <= 1.0


@pytest.mark.parametrize("bad", [(-1, 1, 1, 1), (1, -1, 1, 1)])
def test_negative_counts_are_refused(bad):
    process = RateRatioEProcess(RatioGrid.build(), alpha_lower=0.05, alpha_upper=0.05)
    with pytest.raises(ValueError):
        process.update(*bad)
