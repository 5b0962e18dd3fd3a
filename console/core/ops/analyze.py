"""``analyze SERVICE``: one analysis of the live canary against the live baseline, now.

With Prometheus the judge replays every interval since the canary started (the
history is there); scraping directly, it takes two scrapes one interval apart
and judges that one look. Either way the document is the replay's.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from console.core.analysis_live import analyze_live
from console.core.errors import Blocked
from console.core.judge import Judge
from console.core.ops import releases as rel
from console.core.ops.canary import template_for
from console.core.ops.context import OpContext
from console.core.ops.rollout import target
from console.core.ops.sampling import RELEASE_QUERIES, make_sampler
from console.core.replay import verdict_document
from engines.metrics.prometheus import PrometheusSource


async def analyze_service(
    ctx: OpContext, service_name: str, environment: str, template_name: str | None
) -> dict[str, Any]:
    service, env = target(ctx, service_name, environment)
    traffic = ctx.store.traffic(service.name, env.name)
    if traffic is None or traffic.canary_release is None or traffic.live_color is None:
        raise Blocked(f"{service.name}/{env.name}: no canary is running (nothing to analyse)")
    canary = ctx.store.release(traffic.canary_release)
    baseline = rel.live_release(ctx.store, traffic)
    canary_color = next(
        c for c in ("blue", "green") if traffic.release_of(c) == traffic.canary_release
    )
    template = template_for(ctx, template_name or service.analysis)
    running = ctx.store.in_progress(service.name, env.name)
    started = running[-1].started_at.timestamp() if running else traffic.updated_at.timestamp()
    weight = traffic.canary_weight_pct
    metrics = ctx.config.metrics
    if metrics.prometheus_url:
        source = PrometheusSource(
            metrics.prometheus_url,
            RELEASE_QUERIES,
            timeout_s=metrics.query_timeout_s,
            staleness_s=max(10.0, metrics.scrape_interval_s * 5),
            releases={
                "baseline": baseline.name if baseline else "",
                "canary": canary.name if canary else "",
            },
        )
        return await analyze_live(
            source,
            service.name,
            template,
            canary_started_ts=started,
            now_ts=time.time(),
            weight_pct=weight,
        )
    sampler = make_sampler(
        ctx,
        service,
        env,
        traffic.live_color,
        canary_color,
        canary.name if canary else "",
        baseline.name if baseline else "",
        weight=lambda: weight,
    )
    interval_s = min(float(template.interval_s), 10.0)
    await sampler.start()
    await asyncio.sleep(interval_s)
    verdict = Judge(template).observe(await sampler.sample())
    return verdict_document(verdict, interval_s)
