"""Histogram quantiles (display) and exceedance counts (tested)."""

from __future__ import annotations

import math

import pytest

from console.core.judge import histogram

BUCKETS = ((0.05, 2000), (0.1, 2700), (0.25, 2840), (math.inf, 2850))


def test_quantile_interpolates_inside_the_bucket_like_prometheus():
    assert histogram.quantile(BUCKETS, 0.5) == pytest.approx(0.05 * 1425 / 2000)
    assert histogram.quantile(BUCKETS, 0.9) == pytest.approx(0.05 + 0.05 * (2565 - 2000) / 700)
    assert histogram.quantile(BUCKETS, 0.999) == 0.25  # in +Inf: the highest finite bound


def test_quantile_without_requests_is_none():
    assert histogram.quantile(((0.1, 0), (math.inf, 0)), 0.5) is None


def test_exceedances_count_requests_above_a_boundary():
    assert histogram.exceedances(BUCKETS, 0.1) == (150, 2850)


def test_exceedances_need_the_boundary():
    assert histogram.exceedances(BUCKETS, 0.2) is None


def test_thresholds_are_nearest_boundaries_to_the_quantiles_and_distinct():
    assert histogram.choose_thresholds(BUCKETS, (0.5, 0.99), min_requests=100) == [
        (0.5, 0.05),
        (0.99, 0.25),
    ]
    fast = ((0.005, 995), (0.01, 999), (math.inf, 1000))
    assert histogram.choose_thresholds(fast, (0.5, 0.99), min_requests=100) == [(0.5, 0.005)]


def test_thresholds_need_enough_reference_requests():
    assert histogram.choose_thresholds(BUCKETS, (0.5,), min_requests=10_000) == []


def test_thresholds_are_never_below_the_floor():
    sub_millisecond = ((0.0001, 500), (0.0005, 990), (0.001, 999), (0.005, 1000), (math.inf, 1000))
    assert histogram.choose_thresholds(
        sub_millisecond, (0.5, 0.99), min_requests=100, floor_s=0.001
    ) == [(0.5, 0.001)]


def test_a_floor_above_every_baseline_request_keeps_the_first_boundary_above_it():
    fast = ((0.0005, 1000), (0.001, 1000), (0.005, 1000), (math.inf, 1000))
    assert histogram.choose_thresholds(fast, (0.5, 0.99), min_requests=100, floor_s=0.001) == [
        (0.5, 0.001)
    ]
