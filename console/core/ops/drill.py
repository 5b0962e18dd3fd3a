"""Rollback drills: prove, regularly, that rollback works — by doing it.

A drill rolls back to the previous release and rolls forward again, measuring
each (command → all traffic on the target, verified through the LB), and
records both durations so status and the console can warn when drills age.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from console.core.errors import Blocked, ShipdeckError
from console.core.ops import releases as rel
from console.core.ops.context import OpContext
from console.core.ops.results import OperationResult
from console.core.ops.rollback import pick_target, plan_rollback, rollback
from console.core.ops.rollout import target
from console.core.store import Outcome, Release


@dataclass
class DrillResult(OperationResult):
    outcome: str
    reason: str | None
    live_release: str | None
    previous_release: str | None
    rollback_s: float | None
    rollforward_s: float | None
    plan: list[str] = field(default_factory=list)

    OMIT_WHEN_EMPTY = ("plan",)


@dataclass(frozen=True)
class DrillPlan:
    """Which release the drill rolls back to and forward from, decided once."""

    service: str
    environment: str
    live: Release
    previous: Release
    steps: tuple[str, ...]


async def plan_drill(ctx: OpContext, service_name: str, environment: str) -> DrillPlan:
    """Refuses what the drill would refuse; the rollback's own plan is nested in it."""
    service, env = target(ctx, service_name, environment)
    if ctx.store.in_progress(service.name, env.name):
        raise Blocked(f"{service.name}/{env.name}: a deployment is in progress; drill later")
    traffic = ctx.store.traffic(service.name, env.name)
    live = rel.live_release(ctx.store, traffic)
    if live is None:
        raise Blocked(f"{service.name}/{env.name}: nothing is live to drill")
    previous = pick_target(ctx, service.name, env.name, "last-good", live)
    back = await plan_rollback(ctx, service, env, previous, "drill")
    steps = (
        f"roll back {live.name} → {previous.name} ({back.mode}), measured",
        *(f"  {step}" for step in back.steps),
        f"roll forward {previous.name} → {live.name} (warm), measured",
        "record both durations (status warns when the last drill ages)",
    )
    return DrillPlan(service.name, env.name, live, previous, steps)


async def drill(
    ctx: OpContext, service_name: str, environment: str, *, dry_run: bool = False
) -> DrillResult:
    plan = await plan_drill(ctx, service_name, environment)
    live, previous = plan.live, plan.previous
    if dry_run:
        return DrillResult(
            Outcome.PLANNED, None, live.name, previous.name, None, None, list(plan.steps)
        )
    service, env = target(ctx, service_name, environment)
    back_s = forward_s = None
    try:
        back = await rollback(ctx, service.name, env.name, previous.name, kind="drill")
        if back.outcome != Outcome.SUCCEEDED:
            raise ShipdeckError(f"rollback to {previous.name} failed: {back.reason}")
        back_s = back.duration_s
        forward = await rollback(ctx, service.name, env.name, live.name, kind="drill")
        if forward.outcome != Outcome.SUCCEEDED:
            raise ShipdeckError(f"roll-forward to {live.name} failed: {forward.reason}")
        forward_s = forward.duration_s
    except ShipdeckError as error:
        ctx.store.record_drill(
            service.name, env.name, Outcome.FAILED, back_s, forward_s, str(error), ctx.clock.now()
        )
        ctx.emit(
            "drill_failed",
            f"drill failed: {error}",
            None,
            service=service.name,
            environment=env.name,
        )
        return DrillResult(Outcome.FAILED, str(error), live.name, previous.name, back_s, forward_s)
    detail = (
        f"{live.name} → {previous.name} in {back_s:.2f}s, back to {live.name} in {forward_s:.2f}s"
    )
    ctx.store.record_drill(
        service.name, env.name, Outcome.SUCCEEDED, back_s, forward_s, detail, ctx.clock.now()
    )
    ctx.emit(
        "drill_succeeded",
        f"drill: {detail}",
        None,
        service=service.name,
        environment=env.name,
        rollback_s=round(back_s, 3),
        rollforward_s=round(forward_s, 3),
    )
    return DrillResult(Outcome.SUCCEEDED, None, live.name, previous.name, back_s, forward_s)
