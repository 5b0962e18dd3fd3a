"""Live analysis: the judge fed by a metrics source from the canary's start."""

from __future__ import annotations

import math

import pytest

from console.core.analysis_live import analyze_live
from console.core.errors import InvalidInput
from console.core.judge import AnalysisTemplate
from engines.metrics.records import ArmSample, IntervalSample

BUCKETS = ((0.05, 2000), (0.25, 2840), (math.inf, 2850))


class FakeSource:
    def __init__(self, canary_errors):
        self.canary_errors = canary_errors
        self.asked = []

    async def sample_interval(self, service, end_ts, interval_s, *, weight_pct=None):
        self.asked.append((end_ts, interval_s))
        baseline = ArmSample(2850, 28, BUCKETS)
        canary = ArmSample(150, self.canary_errors, ((0.05, 100), (0.25, 149), (math.inf, 150)))
        return IntervalSample(end_ts - interval_s, interval_s, weight_pct, baseline, canary)


async def test_live_analysis_fails_a_bad_canary_and_stops_there():
    source = FakeSource(canary_errors=30)
    result = await analyze_live(
        source, "web", AnalysisTemplate(), canary_started_ts=1000, now_ts=1000 + 600, weight_pct=5
    )
    assert result["verdict"] == "fail"
    assert source.asked[0] == (1000, 600.0)  # the baseline window before the start
    assert len(source.asked) == 1 + result["decided_at_interval"]


async def test_live_analysis_needs_one_whole_interval():
    with pytest.raises(InvalidInput, match="less than one interval"):
        await analyze_live(
            FakeSource(1), "web", AnalysisTemplate(), canary_started_ts=1000, now_ts=1030
        )
