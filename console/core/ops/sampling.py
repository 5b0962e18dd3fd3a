"""Where a live canary's numbers come from: Prometheus, or scraping instances directly.

Both give the judge the same per-interval records. With Prometheus, series are
selected by the ``version`` label the instances expose (the release), so no
relabelling follows the rollout; the templates are configurable. Without it,
each instance's ``/metrics`` is scraped where the LB reaches it (through SSH
for remote hosts).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from console.core.config import EnvironmentTarget, ServiceConfig
from console.core.errors import ShipdeckError
from console.core.judge.histogram import quantile
from console.core.ops.context import OpContext
from engines.errors import EngineOperationFailed, TargetUnreachable
from engines.metrics.prometheus import PrometheusSource, PromQueries
from engines.metrics.records import ArmSample, IntervalSample
from engines.metrics.scrape import DirectScraper, ScrapeTarget

RELEASE_QUERIES = PromQueries(
    requests='http_requests_total{job="{service}",version="{release}"}',
    errors='http_requests_total{job="{service}",version="{release}",code=~"5.."}',
    latency_buckets='http_request_duration_seconds_bucket{job="{service}",version="{release}"}',
    counters={"checkouts": 'checkouts_total{job="{service}",version="{release}"}'},
)


def arm_display(arm: ArmSample | None) -> dict[str, float | None]:
    if arm is None:
        return {
            "requests": None,
            "error_rate": None,
            "p50_ms": None,
            "p95_ms": None,
            "p99_ms": None,
        }
    result: dict[str, float | None] = {
        "requests": float(arm.requests),
        "error_rate": (arm.errors / arm.requests) if arm.requests else None,
    }
    for q, key in ((0.5, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")):
        value = quantile(arm.latency_buckets, q) if arm.latency_buckets else None
        result[key] = round(value * 1000, 2) if value is not None else None
    for name, value in arm.counters.items():
        result[f"{name}_per_request"] = (value / arm.requests) if arm.requests else None
    for name, value in arm.gauges.items():
        result[name] = value
    return result


class IntervalSource(Protocol):
    """What the sampler reads: Prometheus or direct scrapes of each instance."""

    async def sample_interval(
        self,
        service: str,
        end_ts: float,
        interval_s: float,
        *,
        weight_pct: float | None = None,
    ) -> IntervalSample: ...


class CanarySampler:
    """Produces one ``IntervalSample`` per call, covering the time since the previous call."""

    def __init__(
        self,
        service: str,
        source: IntervalSource,
        scraper: DirectScraper | None,
        weight: Callable[[], float | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self.source = source
        self.scraper = scraper
        self.weight = weight
        self.clock = clock
        self.last_ts: float | None = None
        self.last: IntervalSample | None = None

    async def start(self) -> None:
        now = self.clock()
        if self.scraper is not None:
            await self.scraper.scrape(now)
        self.last_ts = now

    async def baseline_reference(self) -> tuple[tuple[float, int], ...] | None:
        """The baseline's latency histogram over the 10 minutes before now (Prometheus only)."""
        if self.scraper is not None:
            return None
        before = await self.source.sample_interval(self.service, self.clock(), 600.0)
        if before.baseline is not None and before.baseline.latency_buckets:
            return before.baseline.latency_buckets
        return None

    async def sample(self) -> IntervalSample:
        now = self.clock()
        if self.last_ts is None:
            await self.start()
            now = self.clock()
        if self.scraper is not None:
            await self.scraper.scrape(now)
        interval_s = max(0.001, now - (self.last_ts or now))
        sample = await self.source.sample_interval(
            self.service, now, interval_s, weight_pct=self.weight()
        )
        self.last_ts = now
        self.last = sample
        return sample

    def display(self) -> dict[str, Any]:
        """Per metric, the canary's and the baseline's value in the last interval (for charts)."""
        if self.last is None:
            return {}
        canary, baseline = arm_display(self.last.canary), arm_display(self.last.baseline)
        names = {
            "traffic": "requests",
            "errors": "error_rate",
            "latency_p50": "p50_ms",
            "latency_p95": "p95_ms",
            "latency_p99": "p99_ms",
        }
        extra = {k: k for k in {*canary, *baseline} if k not in names.values()}
        return {
            metric: {"canary": canary.get(key), "baseline": baseline.get(key)}
            for metric, key in {**names, **extra}.items()
        }

    async def close(self) -> None:
        return None


def make_sampler(
    ctx: OpContext,
    service: ServiceConfig,
    env: EnvironmentTarget,
    baseline_color: str,
    canary_color: str,
    canary_release: str,
    baseline_release: str,
    weight: Any = None,
) -> CanarySampler:
    weight = weight or (lambda: None)
    metrics = ctx.config.metrics
    if metrics.prometheus_url:
        source = PrometheusSource(
            metrics.prometheus_url,
            RELEASE_QUERIES,
            timeout_s=metrics.query_timeout_s,
            staleness_s=max(10.0, metrics.scrape_interval_s * 5),
            releases={"baseline": baseline_release, "canary": canary_release},
        )
        return CanarySampler(service.name, source, None, weight)
    targets = []
    for host in env.hosts:
        address = ctx.config.hosts[host].publish_address
        targets.append(ScrapeTarget("baseline", address, env.host_port(baseline_color)))
        targets.append(ScrapeTarget("canary", address, env.host_port(canary_color)))
    host_of = {
        (ctx.config.hosts[h].publish_address, env.host_port(c)): h
        for h in env.hosts
        for c in (baseline_color, canary_color)
    }

    async def fetch(target: ScrapeTarget) -> str:
        try:
            response = await ctx.fleet.http_get(
                host_of[(target.host, target.port)], target.port, target.path, timeout_s=3.0
            )
        except ShipdeckError as error:
            raise TargetUnreachable(target.name, str(error)) from None
        if response.status != 200:
            raise EngineOperationFailed(target.name, f"metrics answered {response.status}")
        return response.text

    scraper = DirectScraper(
        targets, fetcher=fetch, staleness_s=max(10.0, metrics.scrape_interval_s * 5)
    )
    return CanarySampler(service.name, scraper, scraper, weight)
