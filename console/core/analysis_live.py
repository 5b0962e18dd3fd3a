"""One analysis of a live canary against its live baseline, now.

The same judge as the replay, fed by a live metrics source: the baseline's
histogram over ``baseline_window_s`` before the canary started chooses the
latency thresholds, then every evaluation interval since the canary started
is sampled and judged in order, stopping at the first decision, exactly as
the rollout loop would have. Sources that cannot look back (the direct
scraper keeps a bounded window) report no data for what they no longer hold,
which the judge treats as NO_DATA, never as a pass.
"""

from __future__ import annotations

import math
from typing import Any

from console.core.errors import InvalidInput
from console.core.judge import AnalysisTemplate, Judge
from console.core.replay import verdict_document
from engines.metrics.records import MetricsSource

MAX_LOOKS = 24 * 60  # a day of 1-minute intervals: the loop is bounded


async def analyze_live(
    source: MetricsSource,
    service: str,
    template: AnalysisTemplate,
    *,
    canary_started_ts: float,
    now_ts: float,
    weight_pct: float | None = None,
    baseline_window_s: float = 600.0,
) -> dict[str, Any]:
    """Judge ``service``'s canary from its start to ``now_ts``; returns the
    same document as ``analyze --samples`` (verdict, decided_at_interval,
    decided_at_s, metrics)."""
    interval_s = template.interval_s
    looks = math.floor((now_ts - canary_started_ts) / interval_s)
    if looks < 1:
        raise InvalidInput(
            f"analyze {service}: the canary started less than one interval ({interval_s:g} s) ago"
        )
    looks = min(looks, MAX_LOOKS)
    before = await source.sample_interval(service, canary_started_ts, baseline_window_s)
    reference = None
    if before.baseline is not None and before.baseline.latency_buckets:
        reference = before.baseline.latency_buckets
    judge = Judge(template, baseline_reference=reference)
    verdict = None
    for k in range(1, looks + 1):
        sample = await source.sample_interval(
            service, canary_started_ts + k * interval_s, interval_s, weight_pct=weight_pct
        )
        verdict = judge.observe(sample)
        if verdict.decided:
            break
    assert verdict is not None
    return verdict_document(verdict, interval_s)
