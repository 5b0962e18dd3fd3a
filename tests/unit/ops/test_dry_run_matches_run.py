"""--dry-run and the run come from one plan: what the dry run prints is what
the run records in its first event, and then does."""

from __future__ import annotations

import pytest

from console.core.config import parse_config
from console.core.ops.bluegreen import DeployRequest, deploy_blue_green
from console.core.ops.drill import drill
from console.core.ops.pipeline import pipeline
from console.core.ops.rollback import rollback
from tests.unit.ops.fakes import CONFIG_TEXT, make_context


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


async def test_a_drill_dry_run_names_both_releases_and_changes_nothing(tmp_path):
    op = make_context(tmp_path)
    for image in ("v1", "v2"):
        await deploy(op, image)
    applied = len(op.lbs.applied)

    plan = await drill(op, "web", "production", dry_run=True)

    assert plan.outcome == "planned" and plan.exit_code == 0
    assert (plan.live_release, plan.previous_release) == ("v2", "v1")
    assert plan.plan[0] == "roll back v2 → v1 (warm), measured"
    assert len(op.lbs.applied) == applied and op.store.last_drill("web", "production") is None


async def test_a_drill_records_the_rollback_its_dry_run_planned(tmp_path):
    op = make_context(tmp_path)
    for image in ("v1", "v2"):
        await deploy(op, image)

    plan = await drill(op, "web", "production", dry_run=True)
    result = await drill(op, "web", "production")

    assert result.outcome == "succeeded" and "plan" not in result.to_dict()
    back = op.store.history("web", limit=2)[-1]
    assert recorded_plan(op, back.id)["steps"] == [s.strip() for s in plan.plan[1:-2]]


STAGING = """
[services.web.environments.staging]
listen = "127.0.0.1:9080"
preview_listen = "127.0.0.1:9081"
base_port = 19080
[services.web.environments.production]
"""


async def test_a_pipeline_dry_run_nests_each_stage_plan_and_changes_nothing(tmp_path):
    op = make_context(tmp_path)
    op.config = parse_config(CONFIG_TEXT + STAGING)
    await deploy(op, "v1")

    plan = await pipeline(op, "web", "v2", dry_run=True)

    assert plan.outcome == "planned" and plan.exit_code == 0 and plan.stages == []
    assert plan.plan[0] == "staging: blue-green deploy of v2"
    assert any(step.startswith("production: canary") for step in plan.plan)
    assert op.store.in_progress("web", "staging") == []
