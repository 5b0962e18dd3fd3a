"""The blue-green state machine, step by step, against in-memory hosts and LB."""

from __future__ import annotations

import pytest

from console.core.errors import Blocked
from console.core.ops.bluegreen import DeployRequest, deploy_blue_green
from console.core.ops.rollback import rollback
from tests.unit.ops.fakes import DIGESTS, make_context


async def deploy(op, image: str, **kwargs):
    return await deploy_blue_green(op, DeployRequest("web", "production", image, **kwargs))


def live(op) -> str | None:
    traffic = op.store.traffic("web", "production")
    if traffic is None or traffic.live_color is None:
        return None
    return op.store.release(traffic.release_of(traffic.live_color)).name


async def test_first_deploy_goes_live_on_blue(tmp_path):
    op = make_context(tmp_path)
    result = await deploy(op, "v1")
    assert result.outcome == "succeeded" and live(op) == "v1"
    assert op.store.traffic("web", "production").live_color == "blue"
    assert op.lbs.serving() == {"v1"}


async def test_second_deploy_swaps_to_green_and_keeps_blue_warm(tmp_path):
    op = make_context(tmp_path)
    await deploy(op, "v1")
    await deploy(op, "v2")
    traffic = op.store.traffic("web", "production")
    assert traffic.live_color == "green" and live(op) == "v2"
    assert op.store.release(traffic.blue_release).name == "v1"
    assert op.lbs.applied[-1].preview_slot == "blue"


async def test_the_idle_color_gets_a_preview_before_the_swap(tmp_path):
    op = make_context(tmp_path)
    await deploy(op, "v1")
    await deploy(op, "v2")
    preview = [p for p in op.lbs.applied if p.preview_slot == "green"]
    assert preview and preview[0].serving_releases() == {"v1"}


async def test_an_unhealthy_release_is_stopped_and_traffic_never_moves(tmp_path):
    op = make_context(tmp_path)
    await deploy(op, "v1")
    for host in op.fleet.fake_hosts.values():
        host.unhealthy_releases.add("v2")
    result = await deploy(op, "v2")
    assert result.outcome == "failed" and "not healthy" in result.reason
    assert live(op) == "v1" and op.lbs.serving() == {"v1"}
    assert all(
        c.release == "v1" for h in op.fleet.fake_hosts.values() for c in h.containers.values()
    )


async def test_a_rejected_lb_config_at_the_swap_leaves_the_old_color_serving(tmp_path):
    op = make_context(tmp_path)
    await deploy(op, "v1")
    applied = len(op.lbs.applied)

    original = op.lbs.apply

    async def reject_swap(plan):
        if plan.serving_releases() == {"v2"}:
            op.lbs.fail_next = True
        return await original(plan)

    op.lbs.apply = reject_swap
    result = await deploy(op, "v2")
    assert result.outcome == "failed" and "config rejected" in result.reason
    assert live(op) == "v1" and op.lbs.serving() == {"v1"} and len(op.lbs.applied) > applied


async def test_every_step_is_recorded_as_an_event(tmp_path):
    op = make_context(tmp_path)
    result = await deploy(op, "v1")
    kinds = [e.kind for e in op.store.events(result.deployment_id)]
    for expected in (
        "deploy_started",
        "healthy",
        "smoke_passed",
        "swapped",
        "verified",
        "deploy_succeeded",
    ):
        assert expected in kinds


async def test_a_moved_tag_is_a_new_release(tmp_path):
    op = make_context(tmp_path)
    await deploy(op, "v1")
    DIGESTS_BACKUP = dict(DIGESTS)
    try:
        DIGESTS["v1"] = "127.0.0.1:5000/demo@sha256:" + "9" * 64
        await deploy(op, "v1")
    finally:
        DIGESTS.update(DIGESTS_BACKUP)
    names = [r.name for r in op.store.releases("web", "production")]
    assert "v1" in names and any(n.startswith("v1+") for n in names)


async def test_rollback_returns_to_the_warm_previous_release(tmp_path):
    op = make_context(tmp_path)
    await deploy(op, "v1")
    await deploy(op, "v2")
    result = await rollback(op, "web", "production")
    assert result.outcome == "succeeded" and result.mode == "warm" and live(op) == "v1"


async def test_rollback_with_nothing_before_is_blocked(tmp_path):
    op = make_context(tmp_path)
    await deploy(op, "v1")
    with pytest.raises(Blocked, match="no previous healthy release"):
        await rollback(op, "web", "production")


async def test_rollback_dry_run_changes_nothing(tmp_path):
    op = make_context(tmp_path)
    await deploy(op, "v1")
    await deploy(op, "v2")
    applied = len(op.lbs.applied)
    plan = await rollback(op, "web", "production", dry_run=True)
    assert (
        plan.outcome == "planned"
        and plan.plan
        and live(op) == "v2"
        and len(op.lbs.applied) == applied
    )


async def test_deploy_dry_run_prints_the_plan_and_changes_nothing(tmp_path):
    op = make_context(tmp_path)
    await deploy(op, "v1")
    plan = await deploy(op, "v2", dry_run=True)
    assert plan.outcome == "planned" and any("swap" in step for step in plan.plan)
    assert live(op) == "v1" and op.store.in_progress("web", "production") == []
