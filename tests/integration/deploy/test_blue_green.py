"""Blue-green deploys and rollback end to end: real hosts over SSH, registry, nginx, load."""

from __future__ import annotations

import asyncio

import pytest

from console.core.errors import Blocked
from console.core.ops.bluegreen import DeployRequest, deploy_blue_green
from console.core.ops.rollback import rollback
from engines.loadgen import run_load
from tests.integration.conftest import live_release

pytestmark = pytest.mark.rig


async def deploy(op, image: str, **kwargs):
    return await deploy_blue_green(op, DeployRequest("web", "production", image, **kwargs))


async def under_load(port: int, operation):
    """Run ``operation`` while bounded loopback load runs through the LB."""
    stop = asyncio.Event()
    load = asyncio.create_task(
        run_load(
            "127.0.0.1",
            port,
            duration_s=120,
            max_requests=60_000,
            rate_per_s=150,
            concurrency=6,
            stop=stop,
        )
    )
    await asyncio.sleep(1.0)
    try:
        result = await operation()
        await asyncio.sleep(1.0)
    finally:
        stop.set()
    return result, await load


async def test_deploy_v1_then_v2_swaps_traffic_with_zero_failed_requests(stack):
    op = stack.context()
    assert (await deploy(op, "v1")).outcome == "succeeded"
    dry = await deploy(op, "v2", dry_run=True)
    result, stats = await under_load(stack.listen_port, lambda: deploy(op, "v2"))
    assert result.outcome == "succeeded", result.reason
    recorded = op.store.events(result.deployment_id)[0].data["plan"]
    assert recorded["steps"] == dry.plan and dry.lb_diff
    assert stats.requests > 200 and stats.failed == 0, stats.to_dict()
    assert set(stats.by_release) == {"v1", "v2"}
    assert live_release(op) == "v2"
    await op.fleet.close()


async def test_rollback_to_the_warm_color_is_a_swap_with_zero_failed_requests(stack):
    op = stack.context()
    await deploy(op, "v1")
    await deploy(op, "v2")
    result, stats = await under_load(stack.listen_port, lambda: rollback(op, "web", "production"))
    assert result.outcome == "succeeded" and result.mode == "warm" and result.to_release == "v1"
    assert stats.failed == 0, stats.to_dict()
    assert stats.release_share_since(0) and list(stats.by_release)[-1] in ("v1", "v2")
    await op.fleet.close()


async def test_rollback_to_a_cold_release_starts_it_from_the_stored_digest(stack):
    op = stack.context()
    await deploy(op, "v1")
    await deploy(op, "v2")
    await deploy(op, "v3")  # v1's color now runs v3: v1 is cold
    dry = await rollback(op, "web", "production", "v1", dry_run=True)
    result = await rollback(op, "web", "production", "v1")
    assert result.outcome == "succeeded" and result.mode == "cold"
    recorded = op.store.events(result.deployment_id)[0].data["plan"]
    assert recorded["steps"] == dry.plan and dry.mode == "cold" and dry.lb_diff
    traffic = op.store.traffic("web", "production")
    assert (
        op.store.release(traffic.release_of(traffic.live_color)).image_ref
        == stack.rig.digests["v1"]
    )
    await op.fleet.close()


async def test_a_release_failing_its_health_check_is_rolled_back_with_the_reason(stack):
    await deploy(stack.context(), "v1")
    op = stack.context(env={"ERROR_RATE": "0", "HEALTHY": "false"}, health_timeout_s=3.0)
    result = await deploy(op, "v2")
    assert result.outcome == "failed" and result.exit_code == 1
    assert "not healthy" in result.reason
    deployment = op.store.deployment(result.deployment_id)
    assert deployment.outcome == "failed" and "not healthy" in deployment.reason
    assert live_release(op) == "v1"
    await op.fleet.close()


async def test_a_release_failing_smoke_tests_never_gets_traffic(stack):
    from console.core.config import SmokeCheck

    await deploy(stack.context(), "v1")
    op = stack.context(smoke=(SmokeCheck("/", 200, "version=v1"),))
    result = await deploy(op, "v2")
    assert result.outcome == "failed" and "smoke test" in result.reason
    kinds = [
        event
        for event, _, fields in stack.events
        if fields.get("deployment_id") == result.deployment_id
    ]
    assert "swapped" not in kinds
    await op.fleet.close()


async def test_a_release_failing_post_deploy_verification_is_rolled_back(stack):
    await deploy(stack.context(), "v1")
    from console.core.config import SmokeCheck

    # healthy enough to pass the health check and a smoke check, failing under real traffic
    op = stack.context(
        env={"ERROR_RATE": "0.3"}, max_error_rate=0.05, smoke=(SmokeCheck("/healthz", 200, None),)
    )
    result, _ = await under_load(stack.listen_port, lambda: deploy(op, "v2", verify_s=5.0))
    assert result.outcome == "rolled_back" and "post-deploy verification" in result.reason
    assert live_release(op) == "v1"
    await op.fleet.close()


async def test_a_second_deploy_of_a_locked_service_is_blocked(stack):
    op = stack.context()
    op.store.try_lock("web", "someone-else", "deploying v9", 30, op.clock.now())
    with pytest.raises(Blocked, match="locked by someone-else"):
        await deploy(op, "v1")
    await op.fleet.close()


async def test_the_migration_gate_refuses_code_older_than_the_schema(stack):
    op = stack.context()
    assert (await deploy(op, "v1", schema_needs=5, schema_supports=5)).outcome == "succeeded"
    with pytest.raises(Blocked, match="migration gate"):
        await deploy(op, "v2", schema_needs=3, schema_supports=3)
    assert live_release(op) == "v1"
    await op.fleet.close()
