"""On the real rig: what --dry-run prints is the plan the run records in its
first event and then follows (blue-green and cold rollback are checked in
test_blue_green.py)."""

from __future__ import annotations

import asyncio

import pytest

from console.core.ops.bluegreen import DeployRequest, deploy_blue_green
from console.core.ops.canary import CanaryRequest, deploy_canary, plan_promote, request_signal
from console.core.ops.drill import drill
from engines.loadgen import run_load

pytestmark = pytest.mark.rig


def recorded_plan(op, deployment_id: int) -> dict:
    return op.store.events(deployment_id)[0].data["plan"]


async def test_a_canary_records_the_plan_its_dry_run_printed(canary_stack):
    op = canary_stack.context()
    assert (await deploy_blue_green(op, DeployRequest("web", "production", "v1"))).outcome == (
        "succeeded"
    )
    dry = await deploy_canary(op, CanaryRequest("web", "production", "v3", dry_run=True))
    assert dry.outcome == "planned" and dry.lb_diff
    stop = asyncio.Event()
    load = asyncio.create_task(
        run_load(
            "127.0.0.1",
            canary_stack.listen_port,
            duration_s=120,
            max_requests=60_000,
            rate_per_s=600,
            concurrency=8,
            stop=stop,
        )
    )
    try:
        await asyncio.sleep(3)
        result = await deploy_canary(op, CanaryRequest("web", "production", "v3"))
    finally:
        stop.set()
        await load
    assert result.outcome == "rolled_back"  # v3 has 3x the errors: the judge says so
    plan = recorded_plan(op, result.deployment_id)
    assert plan["steps"] == dry.plan and plan["strategy"] == "canary"
    await op.fleet.close()


async def test_a_drill_rolls_back_exactly_as_its_dry_run_planned(stack):
    op = stack.context()
    for image in ("v1", "v2"):
        await deploy_blue_green(op, DeployRequest("web", "production", image))

    dry = await drill(op, "web", "production", dry_run=True)
    result = await drill(op, "web", "production")

    assert result.outcome == "succeeded"
    back, forward = op.store.history("web", limit=2)[::-1]
    assert recorded_plan(op, back.id)["steps"] == [step.strip() for step in dry.plan[1:-2]]
    assert recorded_plan(op, forward.id)["to_release"] == "v2"
    await op.fleet.close()


async def test_a_promote_records_the_plan_its_dry_run_printed_and_skips_to_full_weight(
    canary_stack,
):
    # 5% errors in both arms: the judge can say "no worse" at every look.
    canary_stack.update_service(env={"ERROR_RATE": "0.05"}, max_error_rate=0.25)
    op = canary_stack.context()
    assert (await deploy_blue_green(op, DeployRequest("web", "production", "v1"))).outcome == (
        "succeeded"
    )
    stop = asyncio.Event()
    load = asyncio.create_task(
        run_load(
            "127.0.0.1",
            canary_stack.listen_port,
            duration_s=180,
            max_requests=80_000,
            rate_per_s=300,
            concurrency=8,
            stop=stop,
        )
    )
    try:
        await asyncio.sleep(3)
        rollout = asyncio.create_task(deploy_canary(op, CanaryRequest("web", "production", "v2")))
        for _ in range(600):
            running = op.store.in_progress("web", "production")
            if running and str(running[-1].step or "").startswith("analysis"):
                break
            await asyncio.sleep(0.1)
        deployment_id, steps = plan_promote(op, "web", "production")
        assert await request_signal(op, "web", "production", "promote") == deployment_id
        result = await asyncio.wait_for(rollout, 150)
    finally:
        stop.set()
        await load
    assert result.outcome == "succeeded", result.reason
    requested = [e for e in op.store.events(deployment_id) if e.kind == "promote_requested"]
    assert requested[0].data["plan"] == list(steps)
    await op.fleet.close()
