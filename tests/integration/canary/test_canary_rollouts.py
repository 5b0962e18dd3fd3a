"""Canary rollouts on the real rig, judged from a real Prometheus scraping the demo app."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from console.core.ops.bluegreen import DeployRequest, deploy_blue_green
from console.core.ops.canary import CanaryRequest, deploy_canary
from console.core.ops.drill import drill
from console.core.ops.rollback import rollback
from engines.loadgen import LoadStats, run_load
from tests.integration.conftest import live_release

pytestmark = pytest.mark.rig


@contextlib.asynccontextmanager
async def load(port: int, rate_per_s: float = 300.0):
    stop = asyncio.Event()
    stats = LoadStats()
    task = asyncio.create_task(
        run_load(
            "127.0.0.1",
            port,
            duration_s=400,
            max_requests=150_000,
            rate_per_s=rate_per_s,
            concurrency=8,
            stop=stop,
            stats=stats,
        )
    )
    try:
        yield stats
    finally:
        stop.set()
        await task


async def baseline(stack, **service_changes) -> None:
    op = stack.context(**service_changes)
    result = await deploy_blue_green(op, DeployRequest("web", "production", "v1", verify_s=1.0))
    assert result.outcome == "succeeded", result.reason
    await op.fleet.close()


def weights_set(stack, deployment_id: int) -> list[int]:
    return [
        f["weight_pct"]
        for e, _, f in stack.events
        if e == "weight_set" and f.get("deployment_id") == deployment_id
    ]


async def test_a_healthy_canary_is_promoted_through_every_step(canary_stack):
    # 5% errors in both arms: enough events at 5% weight for the judge to prove "no worse" quickly
    await baseline(canary_stack, env={"ERROR_RATE": "0.05"})
    op = canary_stack.context(env={"ERROR_RATE": "0.05"})
    async with load(canary_stack.listen_port) as stats:
        await asyncio.sleep(3)
        result = await deploy_canary(op, CanaryRequest("web", "production", "v2"))
    assert result.outcome == "succeeded", result.reason
    assert weights_set(canary_stack, result.deployment_id) == [5, 25, 50]
    assert live_release(op) == "v2"
    traffic = op.store.traffic("web", "production")
    assert (
        traffic.release_of("blue" if traffic.live_color == "green" else "green") is not None
    )  # v1 warm
    assert stats.errors == 0
    await op.fleet.close()


async def test_a_canary_with_a_higher_error_rate_is_rolled_back_during_the_first_step(canary_stack):
    # This test is about errors. At 600 req/s on a busy 2-core machine either arm's
    # latency tail can trip first; latency regressions have their own test below.
    with canary_stack.editing_config() as document:
        document["analysis"]["test"]["latency_quantiles"] = []
    await baseline(canary_stack)
    op = canary_stack.context()
    async with load(canary_stack.listen_port, rate_per_s=600) as stats:
        await asyncio.sleep(3)
        started = time.monotonic()
        result = await deploy_canary(op, CanaryRequest("web", "production", "v3"))
        elapsed_s = time.monotonic() - started
    assert result.outcome == "rolled_back" and result.exit_code == 1
    assert "errors FAIL" in result.reason
    assert weights_set(canary_stack, result.deployment_id) == [5]
    assert elapsed_s < 60
    # users outside the canary share never saw the canary: it served about its weight, no more
    canary_share = stats.by_release.get("v3", 0) / max(1, stats.requests)
    assert canary_share < 0.07, stats.to_dict()
    assert op.store.traffic("web", "production").canary_release is None
    assert live_release(op) == "v1"
    await op.fleet.close()


async def test_a_latency_regression_is_rolled_back_on_the_latency_metric(canary_stack):
    await baseline(canary_stack)
    op = canary_stack.context()
    async with load(canary_stack.listen_port):
        await asyncio.sleep(3)
        result = await deploy_canary(op, CanaryRequest("web", "production", "v4"))
    assert result.outcome == "rolled_back" and "latency" in result.reason
    await op.fleet.close()


async def test_prometheus_stopped_mid_analysis_pauses_as_inconclusive_and_never_promotes(
    canary_stack,
):
    with canary_stack.editing_config() as document:
        del document["analysis"]["test"]["on_inconclusive"]  # the default: pause
    await baseline(canary_stack)
    op = canary_stack.context()
    async with load(canary_stack.listen_port):
        await asyncio.sleep(3)
        rollout = asyncio.create_task(deploy_canary(op, CanaryRequest("web", "production", "v2")))
        for _ in range(300):
            if any(e == "analysis" for e, _, _ in canary_stack.events):
                break
            await asyncio.sleep(0.2)
        canary_stack.prometheus.stop()
        for _ in range(600):
            if any(e == "paused" for e, _, _ in canary_stack.events):
                break
            await asyncio.sleep(0.2)
        assert not rollout.done()
        paused = [m for e, m, _ in canary_stack.events if e == "paused"]
        assert paused and "inconclusive" in paused[0]
        assert not any(e == "step_extended" for e, _, _ in canary_stack.events)
        assert live_release(op) == "v1"
        abort = canary_stack.context(operator="oncall")
        result = await rollback(abort, "web", "production", kind="abort")
        outcome = await asyncio.wait_for(rollout, 60)
    assert result.outcome == "succeeded" and outcome.outcome == "rolled_back"
    await op.fleet.close()
    await abort.fleet.close()


async def test_a_drill_records_rollback_and_roll_forward_durations(stack):
    op = stack.context()
    await deploy_blue_green(op, DeployRequest("web", "production", "v1"))
    await deploy_blue_green(op, DeployRequest("web", "production", "v2"))
    result = await drill(op, "web", "production")
    assert result.outcome == "succeeded" and result.rollback_s > 0 and result.rollforward_s > 0
    recorded = op.store.last_drill("web", "production")
    assert (
        recorded.rollback_s == result.rollback_s and recorded.rollforward_s == result.rollforward_s
    )
    assert live_release(op) == "v2"
    await op.fleet.close()
