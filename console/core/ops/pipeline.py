"""The CI pipeline in one command: staging → production canary → full rollout → verification.

Each stage has an automatic rollback path; the pipeline stops at the first
failure, and returns *both* environments to the release they had before, so
a bad image never lingers in staging either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from console.core.errors import Blocked, ShipdeckError
from console.core.ops import releases as rel
from console.core.ops.bluegreen import DeployRequest, deploy_blue_green, plan_deploy
from console.core.ops.canary import CanaryRequest, deploy_canary, plan_canary_deploy
from console.core.ops.context import OpContext
from console.core.ops.results import OperationResult
from console.core.ops.rollback import rollback
from console.core.ops.rollout import target
from console.core.ops.verify import post_deploy_verify
from console.core.store import Outcome


@dataclass
class PipelineResult(OperationResult):
    outcome: str  # succeeded | failed
    stage: str | None
    reason: str | None
    stages: list[dict[str, Any]] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)

    OMIT_WHEN_EMPTY = ("plan",)


async def plan_pipeline(ctx: OpContext, service_name: str, image: str) -> tuple[str, ...]:
    """The stages and, nested, the plan of each deploy; refuses what the run refuses."""
    service = ctx.config.service(service_name)
    for env_name in ("staging", "production"):
        if env_name not in service.environments:
            raise Blocked(f"pipeline: {service_name} has no {env_name} environment configured")
    staging_env = service.environments["staging"]
    staging = await plan_deploy(
        ctx, service, staging_env, DeployRequest(service.name, "staging", image)
    )
    production_env = service.environments["production"]
    production = ctx.store.traffic(service.name, "production")
    if production is None or production.live_color is None:
        prod = await plan_deploy(
            ctx, service, production_env, DeployRequest(service.name, "production", image)
        )
        prod_title = "production: first deploy, blue-green"
    else:
        prod = await plan_canary_deploy(
            ctx, CanaryRequest(service.name, "production", image), service, production_env
        )
        prod_title = "production: canary with analysis (a failed look rolls back)"
    before = staging.from_release.name if staging.from_release else None
    return (
        f"staging: blue-green deploy of {staging.release_name}",
        *(f"  {step}" for step in staging.steps),
        prod_title,
        *(f"  {step}" for step in prod.steps),
        f"verify production for {service.post_deploy_verify_s:g}s",
        "on any failure: roll production back"
        + (f" and return staging to {before}" if before else ""),
    )


async def pipeline(
    ctx: OpContext, service_name: str, image: str, *, dry_run: bool = False
) -> PipelineResult:
    service = ctx.config.service(service_name)
    for env_name in ("staging", "production"):
        if env_name not in service.environments:
            raise Blocked(f"pipeline: {service_name} has no {env_name} environment configured")
    if dry_run:
        steps = await plan_pipeline(ctx, service_name, image)
        return PipelineResult(Outcome.PLANNED, None, None, [], list(steps))
    stages: list[dict[str, Any]] = []
    staging_before = rel.live_release(ctx.store, ctx.store.traffic(service.name, "staging"))

    def stage(name: str, outcome: str, detail: str | None) -> None:
        stages.append({"stage": name, "outcome": outcome, "detail": detail})
        ctx.emit(
            "stage",
            f"stage {name}: {outcome}" + (f" ({detail})" if detail else ""),
            None,
            stage=name,
            outcome=outcome,
        )

    async def restore_staging() -> None:
        if staging_before is None:
            return
        result = await rollback(ctx, service.name, "staging", staging_before.name)
        stage("staging-rollback", result.outcome, f"back on {staging_before.name}")

    # 1. staging, blue-green (smoke tests run inside, against the idle color)
    result = await deploy_blue_green(ctx, DeployRequest(service.name, "staging", image))
    stage("staging", result.outcome, result.reason)
    if result.outcome != Outcome.SUCCEEDED:
        return PipelineResult(Outcome.FAILED, "staging", result.reason, stages)
    # 2. production canary with analysis, automatic rollback inside
    production = ctx.store.traffic(service.name, "production")
    try:
        if production is None or production.live_color is None:
            prod = await deploy_blue_green(ctx, DeployRequest(service.name, "production", image))
        else:
            prod = await deploy_canary(ctx, CanaryRequest(service.name, "production", image))
    except ShipdeckError as error:
        stage("production-canary", Outcome.FAILED, str(error))
        await restore_staging()
        return PipelineResult(Outcome.FAILED, "production-canary", str(error), stages)
    stage("production-canary", prod.outcome, prod.reason)
    if prod.outcome != Outcome.SUCCEEDED:
        await restore_staging()
        return PipelineResult(Outcome.FAILED, "production-canary", prod.reason, stages)
    # 3. post-deploy verification of the new production live color
    svc, env = target(ctx, service.name, "production")
    traffic = ctx.store.traffic(service.name, "production")
    live_color = traffic.live_color if traffic else None
    try:
        if live_color is None:
            raise ShipdeckError("production has no live color after its rollout")
        summary = await post_deploy_verify(
            ctx.fleet, svc, env, live_color, ctx.clock, svc.post_deploy_verify_s
        )
        stage("verification", Outcome.SUCCEEDED, summary)
    except ShipdeckError as error:
        stage("verification", Outcome.FAILED, str(error))
        back = await rollback(ctx, service.name, "production")
        stage("production-rollback", back.outcome, back.reason)
        await restore_staging()
        return PipelineResult(Outcome.FAILED, "verification", str(error), stages)
    text = f"{service.name}: pipeline of {image} succeeded (staging and production)"
    await ctx.notify(service.name, "pipeline_succeeded", text)
    return PipelineResult(Outcome.SUCCEEDED, None, None, stages)
