"""--dry-run and the run come from one plan: what the dry run prints is what
the run records in its first event, and then does."""

from __future__ import annotations

import pytest

from console.core.ops.bluegreen import DeployRequest, deploy_blue_green
from console.core.ops.rollback import rollback
from tests.unit.ops.fakes import make_context


async def deploy(op, image: str) -> None:
    result = await deploy_blue_green(op, DeployRequest("web", "production", image))
    assert result.outcome == "succeeded"


def recorded_plan(op, deployment_id: int) -> dict:
    first = op.store.events(deployment_id)[0]
    return first.data["plan"]


@pytest.mark.parametrize(
    ("images", "to", "mode"),
    [(("v1", "v2"), "last-good", "warm"), (("v1", "v2", "v3"), "v1", "cold")],
    ids=["warm", "cold"],
)
async def test_the_dry_run_plan_is_the_plan_the_rollback_records_and_runs(
    tmp_path, images, to, mode
):
    op = make_context(tmp_path)
    for image in images:
        await deploy(op, image)

    dry = await rollback(op, "web", "production", to, dry_run=True)
    run = await rollback(op, "web", "production", to)

    plan = recorded_plan(op, run.deployment_id)
    assert plan["steps"] == dry.plan
    assert (plan["mode"], dry.mode, run.mode) == (mode, mode, mode)
    assert (plan["from_release"], plan["to_release"]) == (dry.from_release, dry.to_release)


async def test_a_cold_rollback_starts_the_release_on_the_color_its_dry_run_named(tmp_path):
    op = make_context(tmp_path)
    for image in ("v1", "v2", "v3"):
        await deploy(op, image)

    dry = await rollback(op, "web", "production", "v1", dry_run=True)
    run = await rollback(op, "web", "production", "v1")

    plan = recorded_plan(op, run.deployment_id)
    assert any(f"on {plan['target_color']} from" in step for step in dry.plan)
    traffic = op.store.traffic("web", "production")
    assert traffic.live_color == plan["target_color"]


@pytest.mark.parametrize("images", [(), ("v1",), ("v1", "v2")], ids=["first", "second", "third"])
async def test_the_dry_run_plan_is_the_plan_the_blue_green_deploy_records_and_runs(
    tmp_path, images
):
    op = make_context(tmp_path)
    for image in images:
        await deploy(op, image)

    dry = await deploy_blue_green(op, DeployRequest("web", "production", "v3", dry_run=True))
    run = await deploy_blue_green(op, DeployRequest("web", "production", "v3"))

    plan = recorded_plan(op, run.deployment_id)
    assert plan["steps"] == dry.plan
    assert (plan["release"], plan["from_release"]) == (dry.release, dry.previous_release)
    assert op.store.traffic("web", "production").live_color == plan["to_color"]
