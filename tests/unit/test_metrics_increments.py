"""Per-interval counter increments: tiling, resets, absent and stale series."""

from __future__ import annotations

import math

import pytest

from engines.metrics.increments import (
    counter_increase,
    cumulative_buckets,
    reset_times,
    sum_increases,
)
from engines.metrics.records import ArmSample


def test_increase_is_end_minus_start():
    points = [(0, 100.0), (30, 130.0), (60, 175.0)]
    assert counter_increase(points, 0, 60, staleness_s=10) == 75


def test_consecutive_intervals_tile_exactly():
    points = [(t, float(t * 3)) for t in range(0, 121, 15)]
    first = counter_increase(points, 0, 60, staleness_s=20)
    second = counter_increase(points, 60, 120, staleness_s=20)
    assert first + second == counter_increase(points, 0, 120, staleness_s=20) == 360


def test_counter_reset_counts_from_zero():
    # the process restarted between 30 s and 45 s: 130 → 12
    points = [(0, 100.0), (30, 130.0), (45, 12.0), (60, 40.0)]
    assert counter_increase(points, 0, 60, staleness_s=20) == 30 + 12 + 28


def test_series_born_in_the_interval_starts_from_zero():
    assert counter_increase([(40, 5.0), (60, 9.0)], 0, 60, staleness_s=20) == 9


def test_absent_series_is_no_data_not_zero():
    assert counter_increase([], 0, 60, staleness_s=20) is None


def test_stale_series_is_no_data():
    assert counter_increase([(0, 10.0), (20, 15.0)], 0, 60, staleness_s=20) is None


def test_restart_seen_in_one_series_applies_to_all_of_the_process():
    # the +Inf bucket drops; the rarely hit 5 ms bucket happens to grow
    inf_bucket = [(0, 100.0), (60, 30.0)]
    fast_bucket = [(0, 2.0), (60, 3.0)]
    resets = reset_times([inf_bucket, fast_bucket], 0, 60)
    assert resets == {60}
    assert counter_increase(fast_bucket, 0, 60, 20, resets) == 3  # not 1
    assert counter_increase(fast_bucket, 0, 60, 20) == 1  # what per-series logic says


def test_sum_ignores_absent_series_but_not_all():
    assert sum_increases([[(0, 1.0), (60, 4.0)], []], 0, 60, 20) == 3
    assert sum_increases([[], []], 0, 60, 20) is None


def test_cumulative_buckets_are_sorted_and_never_decrease():
    buckets = cumulative_buckets({math.inf: 10.0, 0.1: 7.4, 0.05: 8.0})
    assert buckets == ((0.05, 8), (0.1, 8), (math.inf, 10))


def test_arm_from_increments_keeps_errors_within_requests():
    arm = ArmSample.from_increments(10.2, 12.0)
    assert (arm.requests, arm.errors) == (10, 10)


def test_arm_refuses_inconsistent_counts():
    with pytest.raises(ValueError):
        ArmSample(requests=5, errors=6)
