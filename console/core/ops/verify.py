"""Smoke tests before traffic, and post-deploy verification after it.

Both talk to the real instances where the load balancer reaches them. They
decide nothing about rollback: they raise ``OperationFailed`` with the reason,
and the flow that called them rolls back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from console.core.clock import Clock
from console.core.config import EnvironmentTarget, ServiceConfig
from console.core.errors import OperationFailed, ShipdeckError
from console.core.fleet import Fleet


async def run_smoke_tests(
    fleet: Fleet, service: ServiceConfig, env: EnvironmentTarget, slot: str
) -> list[str]:
    """Every configured check on every host's instance in ``slot``; returns what passed."""
    passed: list[str] = []
    checks = service.smoke
    for host in env.hosts:
        for check in checks:
            try:
                response = await fleet.http_get(
                    host, env.host_port(slot), check.path, timeout_s=5.0
                )
            except ShipdeckError as error:
                raise OperationFailed(f"smoke test GET {check.path} on {host}: {error}") from None
            if response.status != check.expect_status:
                raise OperationFailed(
                    f"smoke test GET {check.path} on {host}: expected {check.expect_status}, got {response.status}"
                )
            if check.body_contains is not None and check.body_contains not in response.text:
                raise OperationFailed(
                    f"smoke test GET {check.path} on {host}: body does not contain {check.body_contains!r}"
                )
            passed.append(f"{host} GET {check.path} → {response.status}")
    return passed


@dataclass
class RequestCounts:
    requests: float = 0.0
    errors: float = 0.0


def parse_request_counts(text: str) -> RequestCounts:
    """Totals of ``http_requests_total`` by code class (5xx are errors)."""
    counts = RequestCounts()
    for family in text_string_to_metric_families(text):
        if family.name not in ("http_requests", "http_requests_total"):
            continue
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            counts.requests += sample.value
            if str(sample.labels.get("code", "")).startswith("5"):
                counts.errors += sample.value
    return counts


async def instance_counts(
    fleet: Fleet, env: EnvironmentTarget, slot: str
) -> dict[str, RequestCounts]:
    result: dict[str, RequestCounts] = {}
    for host in env.hosts:
        response = await fleet.http_get(host, env.host_port(slot), "/metrics", timeout_s=3.0)
        if response.status != 200:
            raise OperationFailed(f"{host}: GET /metrics answered {response.status}")
        result[host] = parse_request_counts(response.text)
    return result


async def post_deploy_verify(
    fleet: Fleet,
    service: ServiceConfig,
    env: EnvironmentTarget,
    slot: str,
    clock: Clock,
    window_s: float,
    interval_s: float = 1.0,
    min_requests: int = 20,
    should_stop: object = None,
) -> str:
    """Watch health and error rate of the new live slot for ``window_s``.

    Fails on any failed health probe, or when the 5xx share of requests served
    since the swap exceeds ``max_error_rate`` with at least ``min_requests``.
    Counter resets (a restarted container) restart the baseline.
    """
    if window_s <= 0:
        return "post-deploy verification disabled"
    from console.core.ops.instances import check_slot_healthy

    start = await instance_counts(fleet, env, slot)
    deadline = clock.monotonic() + window_s
    requests = errors = 0.0
    while clock.monotonic() < deadline:
        await asyncio.sleep(min(interval_s, max(0.0, deadline - clock.monotonic())))
        if callable(should_stop) and should_stop():
            raise OperationFailed("post-deploy verification interrupted by an abort request")
        await check_slot_healthy(fleet, service, env, slot)
        now_counts = await instance_counts(fleet, env, slot)
        requests = errors = 0.0
        for host, counts in now_counts.items():
            base = start.get(host, RequestCounts())
            if counts.requests < base.requests:  # counter reset: the instance restarted
                base = RequestCounts()
            requests += counts.requests - base.requests
            errors += counts.errors - base.errors
        if requests >= min_requests and errors / requests > service.max_error_rate:
            raise OperationFailed(
                f"post-deploy verification: error rate {errors / requests:.1%} ({int(errors)}/{int(requests)}) "
                f"> {service.max_error_rate:.1%} allowed"
            )
    rate = f"{errors / requests:.2%} ({int(errors)}/{int(requests)})" if requests else "no requests"
    return f"healthy for {window_s:g}s, error rate {rate}"
