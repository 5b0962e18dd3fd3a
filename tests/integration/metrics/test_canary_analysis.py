"""Real Prometheus and a direct scrape of real demo-app instances → the judge.

Three services run side by side, each a baseline and a canary instance of the
demo app under the same bounded traffic: ``healthy`` (identical releases),
``errors`` (the canary's ERROR_RATE is twice the baseline's) and ``latency``
(the canary adds EXTRA_LATENCY_MS=50). Both metrics sources sample the same
5 s intervals; the judge must name the right metric, not fail the healthy
canary, and be inconclusive once its source is gone.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from console.core.judge import AnalysisTemplate, Judge, Outcome
from engines.metrics.prometheus import PrometheusSource
from engines.metrics.scrape import DirectScraper, ScrapeTarget

pytestmark = pytest.mark.rig

INTERVAL_S = 5.0
INTERVALS = 8
RATE_PER_INSTANCE = 50.0
PROMETHEUS_LAG_S = 1.5  # let the 1 s scrape after an interval's end land
SERVICES = {
    "healthy": ({"ERROR_RATE": 0.1}, {"ERROR_RATE": 0.1}),
    "errors": ({"ERROR_RATE": 0.1}, {"ERROR_RATE": 0.2}),
    "latency": ({"ERROR_RATE": 0.1}, {"ERROR_RATE": 0.1, "EXTRA_LATENCY_MS": 50}),
}
TEMPLATE = AnalysisTemplate(
    interval_s=INTERVAL_S,
    min_soak_s=10,
    min_canary_requests=50,
    min_reference_requests=50,
    traffic_min_expected_requests=10,
)


async def _sleep_until(wall_ts: float) -> None:
    await asyncio.sleep(max(0.0, wall_ts - time.time()))


async def _record(instances, prometheus, stop_service_instances):
    """Sample every service from both sources, interval by interval; then
    with Prometheus stopped and the healthy instances stopped."""
    source = PrometheusSource(prometheus.url, timeout_s=2, staleness_s=5)
    scrapers = {
        service: DirectScraper(
            [ScrapeTarget(i.track, i.host, i.port) for i in instances if i.service == service],
            timeout_s=2,
            staleness_s=INTERVAL_S + 1,
        )
        for service in SERVICES
    }
    recorded = {(s, kind): [] for s in SERVICES for kind in ("prometheus", "direct")}
    t0 = round(time.time()) + 1.0
    await _sleep_until(t0)
    await asyncio.gather(*(scraper.scrape(now=t0) for scraper in scrapers.values()))
    for k in range(1, INTERVALS + 1):
        end = t0 + k * INTERVAL_S
        await _sleep_until(end)
        await asyncio.gather(*(scraper.scrape(now=end) for scraper in scrapers.values()))
        await _sleep_until(end + PROMETHEUS_LAG_S)
        for service, scraper in scrapers.items():
            recorded[(service, "direct")].append(
                await scraper.sample_interval(service, end, INTERVAL_S, weight_pct=50)
            )
            recorded[(service, "prometheus")].append(
                await source.sample_interval(service, end, INTERVAL_S, weight_pct=50)
            )
    prometheus.stop()
    stop_service_instances("healthy")
    end = t0 + (INTERVALS + 1) * INTERVAL_S
    await _sleep_until(end)
    await scrapers["healthy"].scrape(now=end)
    after = {
        "prometheus": await source.sample_interval("healthy", end, INTERVAL_S, weight_pct=50),
        "direct": await scrapers["healthy"].sample_interval(
            "healthy", end, INTERVAL_S, weight_pct=50
        ),
    }
    return recorded, after


@pytest.fixture(scope="module")
def recorded(demo_instances, prometheus_for):
    instances = []
    for service, (baseline_env, canary_env) in SERVICES.items():
        instances += demo_instances(service, baseline_env, canary_env)
    prometheus = prometheus_for(instances)

    def stop_service_instances(service):
        for instance in instances:
            if instance.service == service:
                demo_instances.stop(instance)

    from tests.integration.metrics.conftest import Traffic

    max_s = 3 + (INTERVALS + 3) * INTERVAL_S
    with Traffic(instances, RATE_PER_INSTANCE, max_seconds=max_s):
        time.sleep(2)  # Prometheus holds samples from before the first interval
        return asyncio.run(_record(instances, prometheus, stop_service_instances))


def judge(samples):
    """Feed the judge look by look, stopping at the first decision."""
    j = Judge(TEMPLATE)
    verdict = None
    for sample in samples:
        verdict = j.observe(sample)
        if verdict.decided:
            break
    return verdict


@pytest.mark.parametrize("source", ["prometheus", "direct"])
def test_canary_with_twice_the_error_rate_fails_on_errors(recorded, source):
    samples, _ = recorded
    verdict = judge(samples[("errors", source)])
    assert verdict.overall is Outcome.FAIL, [m.explanation for m in verdict.metrics]
    # latency thresholds never sit below 1 ms, so scheduling jitter cannot fail first
    errors = verdict.metric("errors")
    assert errors.verdict is Outcome.FAIL, errors.explanation


@pytest.mark.parametrize("source", ["prometheus", "direct"])
def test_canary_with_50ms_extra_latency_fails_on_latency(recorded, source):
    samples, _ = recorded
    verdict = judge(samples[("latency", source)])
    assert verdict.overall is Outcome.FAIL, [m.explanation for m in verdict.metrics]
    failed = {m.name for m in verdict.metrics if m.verdict is Outcome.FAIL}
    assert failed and all(name.startswith("latency_") for name in failed)


@pytest.mark.parametrize("source", ["prometheus", "direct"])
def test_healthy_canary_is_not_failed(recorded, source):
    samples, _ = recorded
    verdict = judge(samples[("healthy", source)])
    assert verdict.overall is not Outcome.FAIL, [m.explanation for m in verdict.metrics]


@pytest.mark.parametrize("source", ["prometheus", "direct"])
def test_source_gone_makes_the_analysis_inconclusive(recorded, source):
    samples, after = recorded
    gone = after[source]
    assert gone.canary is None and gone.baseline is None
    j = Judge(TEMPLATE)
    for sample in samples[("healthy", source)]:
        j.observe(sample)
    verdict = j.observe(gone)
    assert verdict.overall is Outcome.INCONCLUSIVE
    assert verdict.metric("errors").verdict is Outcome.NO_DATA
    assert gone.reason and gone.reason in verdict.metric("errors").explanation


def test_both_sources_count_the_same_traffic(recorded):
    samples, _ = recorded
    for service in SERVICES:
        for track in ("baseline", "canary"):
            counts = {
                kind: sum(getattr(s, track).requests for s in samples[(service, kind)])
                for kind in ("prometheus", "direct")
            }
            assert counts["direct"] > 0.5 * RATE_PER_INSTANCE * INTERVAL_S * INTERVALS
            assert abs(counts["prometheus"] - counts["direct"]) <= 0.1 * counts["direct"], counts
