"""The judge, look by look: decisions, no-data semantics, explanations."""

from __future__ import annotations

import random
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from console.core.judge import AnalysisTemplate, BoundRule, Judge, Outcome
from engines.metrics.records import ArmSample, IntervalSample
from tests.unit.judge.helpers import interval, reference

FAST = AnalysisTemplate(min_soak_s=300, min_canary_requests=300)


def run(judge, rng, looks, **kwargs):
    verdict = None
    for look in range(looks):
        verdict = judge.observe(interval(rng, look, **kwargs))
        if verdict.decided:
            return verdict
    return verdict


def test_canary_with_five_times_the_errors_fails_on_errors():
    rng = random.Random(1)
    verdict = run(Judge(FAST, baseline_reference=reference(rng)), rng, 30, canary_error_rate=0.05)
    assert verdict.overall is Outcome.FAIL
    assert verdict.metric("errors").verdict is Outcome.FAIL


def test_slower_canary_fails_on_median_latency():
    rng = random.Random(2)
    verdict = run(Judge(FAST, baseline_reference=reference(rng)), rng, 10, canary_slow=0.9)
    assert verdict.overall is Outcome.FAIL
    assert verdict.look <= 2
    assert verdict.metric("latency_p50").verdict is Outcome.FAIL


def test_tail_only_regression_fails_on_the_tail_threshold():
    rng = random.Random(3)
    verdict = run(Judge(FAST, baseline_reference=reference(rng)), rng, 20, canary_tail=0.08)
    assert verdict.overall is Outcome.FAIL
    assert verdict.metric("latency_p99").verdict is Outcome.FAIL
    assert verdict.metric("latency_p50").verdict is not Outcome.FAIL


def test_tail_threshold_never_passes():
    rng = random.Random(4)
    judge = Judge(FAST, baseline_reference=reference(rng))
    for look in range(40):
        verdict = judge.observe(interval(rng, look))
        assert verdict.metric("latency_p99").verdict is not Outcome.PASS
        assert not verdict.metric("latency_p99").required


def test_healthy_canary_passes_only_after_the_soak():
    rng = random.Random(5)
    judge = Judge(FAST, baseline_reference=reference(rng))
    verdict = run(judge, rng, 60, canary_requests=600, baseline_requests=2400, weight_pct=20)
    assert verdict.overall is Outcome.PASS
    assert verdict.elapsed_s >= FAST.min_soak_s


def test_missing_canary_is_no_data_and_never_passes():
    rng = random.Random(6)
    judge = Judge(FAST, baseline_reference=reference(rng))
    for look in range(60):
        verdict = judge.observe(interval(rng, look, canary_missing=True))
        assert verdict.overall is Outcome.INCONCLUSIVE
        assert verdict.metric("errors").verdict is Outcome.NO_DATA


def test_a_look_without_data_is_inconclusive_even_when_evidence_sufficed():
    rng = random.Random(7)
    judge = Judge(FAST, baseline_reference=reference(rng))
    kwargs = {"canary_requests": 600, "baseline_requests": 2400, "weight_pct": 20}
    for look in range(60):
        verdict = judge.observe(interval(rng, look, **kwargs))
        if verdict.overall is Outcome.PASS:
            break
    gap = judge.observe(interval(rng, 61, canary_missing=True, **kwargs))
    assert gap.overall is Outcome.INCONCLUSIVE
    assert gap.metric("errors").verdict is Outcome.NO_DATA
    assert "evidence unchanged" in gap.metric("errors").explanation


def test_source_down_is_no_data_with_the_reason():
    judge = Judge(FAST)
    sample = IntervalSample(0, 60, 5, None, None, reason="prometheus unreachable")
    verdict = judge.observe(sample)
    assert verdict.overall is Outcome.INCONCLUSIVE
    assert "prometheus unreachable" in verdict.metric("errors").explanation


def test_crash_looping_canary_fails_on_traffic():
    rng = random.Random(8)
    judge = Judge(FAST, baseline_reference=reference(rng))
    verdict = run(judge, rng, 10, canary_requests=0.5, baseline_requests=3000)
    assert verdict.overall is Outcome.FAIL
    assert verdict.metric("traffic").verdict is Outcome.FAIL
    assert verdict.look == FAST.traffic_window_intervals


def test_canary_with_zero_requests_is_no_data_for_errors():
    judge = Judge(FAST)
    verdict = judge.observe(IntervalSample(0, 60, 5, ArmSample(3000, 30), ArmSample(0, 0)))
    assert verdict.metric("errors").verdict is Outcome.NO_DATA


def test_thresholds_come_from_the_reference_near_p50_and_p99():
    rng = random.Random(9)
    judge = Judge(AnalysisTemplate(), baseline_reference=reference(rng))
    assert judge.thresholds_s == {"latency_p50": 0.05, "latency_p99": 0.25}


def test_without_reference_the_first_interval_chooses_thresholds_untested():
    rng = random.Random(10)
    judge = Judge(FAST)
    first = judge.observe(interval(rng, 0, canary_slow=0.9))
    assert first.metric("latency_p50").verdict is Outcome.NO_DATA
    assert judge.thresholds_s
    second = judge.observe(interval(rng, 1, canary_slow=0.9))
    assert second.metric("latency_p50").verdict is Outcome.FAIL


def test_gauge_above_its_bound_fails_and_is_explained():
    rule = BoundRule(name="cpu", kind="gauge", max_ratio=1.5, min_samples=3)
    judge = Judge(AnalysisTemplate(bounds=(rule,), latency_quantiles=()))
    verdict = None
    for look in range(3):
        verdict = judge.observe(
            IntervalSample(
                look * 60,
                60,
                5,
                ArmSample(3000, 30, gauges={"cpu": 0.4}),
                ArmSample(150, 1, gauges={"cpu": 0.9}),
            )
        )
    assert verdict.metric("cpu").verdict is Outcome.FAIL
    assert verdict.overall is Outcome.FAIL
    assert "ratio 2.25" in verdict.metric("cpu").explanation


def test_business_metric_drop_beyond_tolerance_fails():
    rule = BoundRule(name="checkouts", kind="per_request", min_ratio=0.9, min_samples=2)
    judge = Judge(AnalysisTemplate(bounds=(rule,), latency_quantiles=()))
    verdict = None
    for look in range(2):
        verdict = judge.observe(
            IntervalSample(
                look * 60,
                60,
                5,
                ArmSample(3000, 30, counters={"checkouts": 300}),
                ArmSample(150, 1, counters={"checkouts": 10}),
            )
        )
    assert verdict.metric("checkouts").verdict is Outcome.FAIL


def test_non_critical_failure_does_not_fail_the_canary():
    rule = BoundRule(name="cpu", max_ratio=1.1, min_samples=1, critical=False)
    judge = Judge(AnalysisTemplate(bounds=(rule,), latency_quantiles=()))
    verdict = judge.observe(
        IntervalSample(
            0, 60, 5, ArmSample(3000, 30, gauges={"cpu": 1}), ArmSample(150, 1, gauges={"cpu": 2})
        )
    )
    assert verdict.metric("cpu").verdict is Outcome.FAIL
    assert verdict.overall is not Outcome.FAIL


# -- explanations ------------------------------------------------------------

NUMBER = r"(\d+(?:\.\d+)?|∞)"


def _value(text: str) -> float:
    return float("inf") if text == "∞" else float(text)


def check_explanation(metric) -> None:
    """The line names the metric and verdict, and its numbers reproduce it."""
    line = metric.explanation
    assert "\n" not in line
    assert line.startswith(f"{metric.name} {metric.verdict.name} ")
    if not metric.name.startswith(("errors", "latency")):
        return
    if metric.verdict is Outcome.FAIL:
        m = re.search(rf"ratio ≥ {NUMBER} \(anytime [\d.]+% bound\) > {NUMBER} allowed", line)
        assert m and _value(m[1]) > _value(m[2]), line
    elif metric.verdict is Outcome.PASS:
        m = re.search(rf"ratio ≤ {NUMBER} \(anytime [\d.]+% bound\) < {NUMBER} allowed", line)
        assert m and _value(m[1]) < _value(m[2]), line
        soak = re.search(r"soak (\S+) ≥ (\S+),", line)
        assert soak, line
    elif metric.verdict is Outcome.INCONCLUSIVE:
        both = re.search(
            rf"ratio in \[{NUMBER}, {NUMBER}\].*fails above {NUMBER}, passes below {NUMBER}", line
        )
        waiting = re.search(rf"ratio ≤ {NUMBER} .* < {NUMBER} allowed but", line)
        tail = re.search(rf"ratio ≥ {NUMBER} .* ≤ {NUMBER} allowed · (tail|the baseline)", line)
        assert both or waiting or tail, line
        if both:
            assert _value(both[1]) <= _value(both[3]) and _value(both[2]) >= _value(both[4])
        if tail:
            assert _value(tail[1]) <= _value(tail[2])


arm_counts = st.tuples(
    st.integers(min_value=0, max_value=400),
    st.floats(min_value=0, max_value=0.2),
    st.floats(min_value=0.1, max_value=0.9),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), arm_counts, arm_counts, st.sampled_from([1.0, 5.0, 20.0, None])),
        min_size=1,
        max_size=25,
    ),
    st.integers(0, 2**16),
)
def test_every_explanation_reproduces_its_verdict(looks, seed):
    rng = random.Random(seed)
    judge = Judge(AnalysisTemplate(min_soak_s=120, min_canary_requests=50))
    for i, (present, canary, baseline, weight) in enumerate(looks):
        sample = interval(
            rng,
            i,
            canary_requests=canary[0],
            canary_error_rate=canary[1],
            canary_slow=canary[2],
            baseline_requests=2000 + baseline[0],
            baseline_error_rate=baseline[1],
            baseline_slow=baseline[2],
            weight_pct=weight,
            canary_missing=not present,
        )
        verdict = judge.observe(sample)
        for metric in verdict.metrics:
            check_explanation(metric)
        if not present:
            assert verdict.overall is not Outcome.PASS


def test_service_faster_than_the_histogram_still_fails_a_slow_canary():
    fast = ((0.005, 3000), (0.01, 3000), (0.05, 3000), (float("inf"), 3000))
    slow = ((0.005, 0), (0.01, 0), (0.05, 150), (float("inf"), 150))
    judge = Judge(FAST, baseline_reference=fast)
    assert judge.thresholds_s == {"latency_p50": 0.005}
    verdict = judge.observe(
        IntervalSample(0, 60, 5, ArmSample(3000, 30, fast), ArmSample(150, 1, slow))
    )
    p50 = verdict.metric("latency_p50")
    assert p50.verdict is Outcome.FAIL and not p50.required


SUB_MS = ((0.0001, 1500), (0.00025, 2700), (0.001, 2940), (0.005, 3000), (float("inf"), 3000))


def test_a_baseline_faster_than_the_floor_cannot_block_a_pass_on_latency():
    judge = Judge(FAST, baseline_reference=SUB_MS)
    assert judge.thresholds_s == {"latency_p50": 0.001}
    verdict = judge.observe(
        IntervalSample(0, 60, 5, ArmSample(3000, 30, SUB_MS), ArmSample(150, 1, SUB_MS))
    )
    p50 = verdict.metric("latency_p50")
    assert not p50.required and "floor" in p50.explanation


def test_a_canary_slower_than_the_floor_still_fails_when_the_baseline_is_faster():
    slow = ((0.0001, 0), (0.00025, 0), (0.001, 0), (0.005, 150), (float("inf"), 150))
    judge = Judge(FAST, baseline_reference=SUB_MS)
    verdict = judge.observe(
        IntervalSample(0, 60, 5, ArmSample(3000, 30, SUB_MS), ArmSample(150, 1, slow))
    )
    assert verdict.metric("latency_p50").verdict is Outcome.FAIL
