"""Blue-green deploy: start on the idle color, prove it, swap, keep the old color warm.

The deploy is a persisted state machine: every step is written to the store
before it acts, so a killed process leaves a deployment whose step says what
may be half-done, and ``rollback`` or ``deploy --resume`` can finish it. Any
failure rolls traffic back to the previous color (if it moved), stops what
was started, records why, notifies and reports exit 1.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from console.core.config import EnvironmentTarget, ServiceConfig
from console.core.errors import Blocked, ShipdeckError
from console.core.locking import held
from console.core.ops import releases as rel
from console.core.ops.context import OpContext
from console.core.ops.instances import check_slot_healthy, start_slot, stop_slot
from console.core.ops.results import OperationResult
from console.core.ops.resume import claim_interrupted
from console.core.ops.rollout import (
    DeployPlan,
    RolloutSignals,
    apply_traffic,
    check_release_gate,
    other_color,
    prune_releases,
    record_deployment,
    record_traffic,
    running_slots,
    target,
)
from console.core.ops.traffic import plan_traffic
from console.core.ops.verify import post_deploy_verify, run_smoke_tests
from console.core.store import Deployment, Outcome, Release, TrafficRecord


@dataclass(frozen=True)
class DeployRequest:
    service: str
    environment: str
    image: str | None
    strategy: str | None = None
    lock_wait_s: float = 0.0
    dry_run: bool = False
    resume: bool = False
    schema_needs: int | None = None
    schema_supports: int | None = None
    verify_s: float | None = None  # override the service's post-deploy window


@dataclass
class DeployResult(OperationResult):
    deployment_id: int | None
    outcome: str  # succeeded | rolled_back | failed | planned
    reason: str | None
    release: str | None
    previous_release: str | None
    duration_s: float
    plan: list[str] = field(default_factory=list)
    lb_diff: str = ""


async def deploy_blue_green(ctx: OpContext, request: DeployRequest) -> DeployResult:
    """Run (or resume, or plan) a blue-green deploy under the service lock."""
    service, env = target(ctx, request.service, request.environment)
    if request.dry_run:
        return await plan_blue_green(ctx, request)
    started = ctx.clock.monotonic()
    resume_from = claim_interrupted(ctx, service.name, env.name) if request.resume else None
    lease_s = ctx.config.lock_lease_s
    async with held(
        ctx.store,
        service.name,
        ctx.operator,
        f"deploy {request.image or 'resume'} to {env.name}",
        lease_s,
        ctx.clock,
        request.lock_wait_s,
    ):
        return await _run(ctx, request, service, env, started, resume_from)


async def _run(
    ctx: OpContext,
    request: DeployRequest,
    service: ServiceConfig,
    env: EnvironmentTarget,
    started: float,
    resume_from: Deployment | None,
) -> DeployResult:
    """Start the new release beside the live one → preview → smoke → gate → swap →
    verify → done; any failure undoes what moved."""
    run = (
        _resumed_run(ctx, service, env, resume_from)
        if resume_from is not None
        else await _new_run(ctx, request, service, env)
    )
    try:
        if not run.state.get("swapped"):
            await run.start_release()
            await run.route_preview()
            await run.smoke_test()
            run.check_gate()
            await run.swap()
        else:
            await run.recheck()
        await run.verify(request.verify_s)
        await run.finish()
        return run.result(Outcome.SUCCEEDED, None, started)
    except (ShipdeckError, asyncio.CancelledError) as error:
        reason = "cancelled" if isinstance(error, asyncio.CancelledError) else str(error)
        outcome = await _undo(
            ctx,
            service,
            env,
            run.deployment_id,
            run.state,
            run.to_release,
            run.from_color,
            run.traffic,
            reason,
        )
        if isinstance(error, asyncio.CancelledError | Blocked):
            raise
        return run.result(outcome, reason, started)


async def _new_run(
    ctx: OpContext, request: DeployRequest, service: ServiceConfig, env: EnvironmentTarget
) -> BlueGreenRun:
    """Plan under the lock, record the release and the deployment: nothing runs yet."""
    traffic = ctx.store.traffic(service.name, env.name)
    plan = await plan_deploy(ctx, service, env, request)
    deployment_id, to_release, state = await record_deployment(
        ctx,
        service,
        env,
        request,
        plan,
        {"swapped": False},
        f"deploying {{release}} ({plan.image_ref}) to {service.name}/{env.name} on {plan.to_color}",
        color=plan.to_color,
    )
    return BlueGreenRun(ctx, service, env, deployment_id, state, to_release, traffic)


def _resumed_run(
    ctx: OpContext, service: ServiceConfig, env: EnvironmentTarget, deployment: Deployment
) -> BlueGreenRun:
    ctx.emit(
        "resumed",
        f"resuming deployment #{deployment.id} at step {deployment.step}",
        deployment.id,
        step=deployment.step,
    )
    state = dict(deployment.state)
    to_release = ctx.store.release(state["to_release_id"])
    assert to_release is not None  # a recorded deployment always names its release
    traffic = ctx.store.traffic(service.name, env.name)
    return BlueGreenRun(ctx, service, env, deployment.id, state, to_release, traffic)


@dataclass
class BlueGreenRun:
    """One blue-green deploy in flight: what it deploys, where, and its persisted state.

    Every step is written to the store before it acts, so a killed process leaves
    a deployment whose step says what may be half-done."""

    ctx: OpContext
    service: ServiceConfig
    env: EnvironmentTarget
    deployment_id: int
    state: dict[str, Any]
    to_release: Release
    traffic: TrafficRecord | None  # as it was before this deploy moved anything
    from_release: Release | None = field(init=False)
    signals: RolloutSignals = field(init=False)

    def __post_init__(self) -> None:
        self.from_release = rel.live_release(self.ctx.store, self.traffic)
        self.signals = RolloutSignals(self.ctx, self.deployment_id)

    @property
    def from_color(self) -> str | None:
        color = self.state.get("from_color")
        return str(color) if color else None

    @property
    def to_color(self) -> str:
        return str(self.state["to_color"])

    def step(self, name: str, **extra: Any) -> None:
        self.state.update(extra)
        self.ctx.store.update_deployment(
            self.deployment_id, self.ctx.clock.now(), step=name, state=self.state
        )

    async def start_release(self) -> None:
        """Start the new release on the idle color on every host and wait until healthy."""
        ctx, release, idle = self.ctx, self.to_release, self.to_color
        self.step("starting")
        ctx.emit(
            "step",
            f"starting {release.name} on {idle} on {', '.join(self.env.hosts)}",
            self.deployment_id,
            step="starting",
        )
        timings = await start_slot(
            ctx.fleet, self.service, self.env, idle, release.name, self.state["image_ref"]
        )
        ctx.emit(
            "healthy",
            f"{release.name} healthy on every host",
            self.deployment_id,
            seconds_to_healthy=timings,
        )
        ctx.store.mark_release(release.id, ctx.clock.now(), healthy=True)
        self.signals.check()

    async def route_preview(self) -> None:
        """Point the preview listener at the new release; live traffic stays put."""
        slots = await running_slots(self.ctx, self.service, self.env)
        if self.from_color and self.from_color in slots:
            await apply_traffic(
                self.ctx,
                self.service,
                self.env,
                slots,
                self.from_color,
                preview_slot=self.to_color,
                deployment_id=self.deployment_id,
            )

    async def smoke_test(self) -> None:
        self.step("smoke")
        passed = await run_smoke_tests(self.ctx.fleet, self.service, self.env, self.to_color)
        self.ctx.emit(
            "smoke_passed",
            f"{len(passed)} smoke checks passed",
            self.deployment_id,
            checks=passed,
        )
        self.signals.check()

    def check_gate(self) -> None:
        self.step("gate")
        check_release_gate(self.ctx, self.service, self.env, self.to_release, self.from_release)

    async def swap(self) -> None:
        """All traffic to the new color; the old color stays warm as the rollback target."""
        ctx, idle, from_color = self.ctx, self.to_color, self.from_color
        self.step("swapping")
        ctx.emit(
            "step",
            f"swapping traffic {from_color or 'nothing'} → {idle}",
            self.deployment_id,
            step="swapping",
        )
        slots = await running_slots(ctx, self.service, self.env)
        await apply_traffic(
            ctx,
            self.service,
            self.env,
            slots,
            idle,
            preview_slot=from_color if from_color in slots else None,
            deployment_id=self.deployment_id,
        )
        traffic = self.traffic
        colors = {c: (traffic.release_of(c) if traffic else None) for c in ("blue", "green")}
        colors[idle] = self.to_release.id
        if from_color not in slots and from_color is not None:
            colors[from_color] = None
        record_traffic(ctx, self.service.name, self.env.name, idle, colors)
        ctx.store.mark_release(self.to_release.id, ctx.clock.now(), live=True)
        self.step("swapped", swapped=True)
        warm = self.from_release
        ctx.emit(
            "swapped",
            f"{self.to_release.name} is live on {idle}"
            + (f"; {warm.name} warm on {from_color}" if warm else ""),
            self.deployment_id,
        )

    async def recheck(self) -> None:
        """Resumed after the swap: prove the new release still answers before verifying."""
        await check_slot_healthy(self.ctx.fleet, self.service, self.env, self.to_color)
        self.ctx.emit(
            "step",
            f"re-checked: {self.to_release.name} healthy on {self.to_color}",
            self.deployment_id,
        )

    async def verify(self, verify_s: float | None) -> None:
        self.step("verifying")
        window_s = self.service.post_deploy_verify_s if verify_s is None else verify_s
        summary = await post_deploy_verify(
            self.ctx.fleet,
            self.service,
            self.env,
            self.to_color,
            self.ctx.clock,
            window_s,
            should_stop=self.signals.poll,
        )
        self.ctx.emit("verified", summary, self.deployment_id)
        self.ctx.store.mark_release(self.to_release.id, self.ctx.clock.now(), healthy=True)

    async def finish(self) -> None:
        ctx, release = self.ctx, self.to_release
        self.step("done")
        ctx.store.finish_deployment(self.deployment_id, Outcome.SUCCEEDED, None, ctx.clock.now())
        await prune_releases(ctx, self.service, self.env)
        previous = self.from_release.name if self.from_release else "nothing"
        text = f"{self.service.name}/{self.env.name}: {previous} → {release.name} deployed"
        ctx.emit("deploy_succeeded", text, self.deployment_id, release=release.name)
        await ctx.notify(
            self.service.name,
            "deploy_succeeded",
            text,
            deployment_id=self.deployment_id,
            release=release.name,
        )

    def result(self, outcome: str, reason: str | None, started: float) -> DeployResult:
        return DeployResult(
            self.deployment_id,
            outcome,
            reason,
            self.to_release.name,
            self.from_release.name if self.from_release else None,
            self.ctx.clock.monotonic() - started,
        )


async def _undo(
    ctx: OpContext,
    service: ServiceConfig,
    env: EnvironmentTarget,
    deployment_id: int,
    state: dict[str, Any],
    to_release: Release | None,
    from_color: str | None,
    traffic: TrafficRecord | None,
    reason: str,
) -> str:
    """Return traffic to the previous color if it moved, stop what was started, record, notify.

    The LB is never left pointing at nothing: if traffic moved and there is no
    previous color to return to (a first deploy), the new release keeps serving.
    """
    store = ctx.store
    ctx.emit("deploy_failed", f"deploy failed: {reason}", deployment_id, reason=reason)
    outcome = Outcome.FAILED
    problems: list[str] = []
    idle = state["to_color"]
    moved = bool(state.get("swapped"))
    restored = False
    try:
        slots = await running_slots(ctx, service, env)
    except ShipdeckError as error:
        slots = {}
        problems.append(f"could not list containers: {error}")
    if from_color and from_color in slots:
        try:
            await apply_traffic(
                ctx,
                service,
                env,
                {k: v for k, v in slots.items() if k != idle},
                from_color,
                deployment_id=deployment_id,
            )
            restored = True
            colors = {
                "blue": traffic.blue_release if traffic else None,
                "green": traffic.green_release if traffic else None,
            }
            colors[idle] = None
            record_traffic(ctx, service.name, env.name, from_color, colors)
            if moved:
                outcome = Outcome.ROLLED_BACK
                ctx.emit("rolled_back", f"traffic back on {from_color}", deployment_id)
        except ShipdeckError as error:
            problems.append(f"could not restore traffic: {error}")
    elif moved:
        problems.append(
            "no previous release is running to return traffic to; the new release keeps serving"
        )
    if not moved or restored:
        problems += await stop_slot(
            ctx.fleet, service, env, idle, to_release.name if to_release else None
        )
    final_reason = reason + (f" ({'; '.join(problems)})" if problems else "")
    store.finish_deployment(deployment_id, outcome, final_reason, ctx.clock.now())
    name = to_release.name if to_release else "?"
    text = (
        f"{service.name}/{env.name}: deploy of {name} {outcome.replace('_', ' ')}: {final_reason}"
    )
    await ctx.notify(service.name, "deploy_" + outcome, text, deployment_id=deployment_id)
    return outcome


async def plan_deploy(
    ctx: OpContext, service: ServiceConfig, env: EnvironmentTarget, request: DeployRequest
) -> DeployPlan:
    """Resolve the image and decide colors and steps from the store; changes nothing."""
    choice = rel.parse_image_argument(service, request.image or "")
    image_ref = await rel.resolve(ctx.fleet, env, choice)
    traffic = ctx.store.traffic(service.name, env.name)
    from_color = traffic.live_color if traffic else None
    idle = other_color(from_color)
    from_release = rel.live_release(ctx.store, traffic)
    name = (
        rel.release_name_for(ctx.store, service.name, env.name, choice.tag, image_ref)
        or image_ref[-12:]
    )
    verify_s = service.post_deploy_verify_s if request.verify_s is None else request.verify_s
    steps = (
        f"take the {service.name} lock",
        f"resolve {choice.reference} → {image_ref}",
        f"start {name} on {idle} on {', '.join(env.hosts)} (port {env.host_port(idle)}), health-check {service.health_path}",
        f"route the preview listener :{env.preview_port} to {idle}",
        f"run {len(service.smoke)} smoke checks against {idle}",
        "check the migration gate",
        f"swap {env.listen_address}:{env.listen_port} from {from_color or 'nothing'} ({from_release.name if from_release else '-'}) to {idle} ({name})",
        f"verify for {verify_s:g}s (error rate ≤ {service.max_error_rate:.1%}); on failure swap back",
        f"keep {from_color} warm as the rollback target"
        if from_color
        else "first deploy: nothing to keep warm",
    )
    return DeployPlan(
        service=service.name,
        environment=env.name,
        strategy="blue-green",
        reference=choice.reference,
        tag=choice.tag,
        image_ref=image_ref,
        release_name=name,
        from_color=from_color,
        to_color=idle,
        from_release=from_release,
        steps=steps,
    )


async def plan_blue_green(ctx: OpContext, request: DeployRequest) -> DeployResult:
    """``--dry-run``: the plan step by step and the exact LB config diff; changes nothing."""
    service, env = target(ctx, request.service, request.environment)
    plan = await plan_deploy(ctx, service, env, request)
    steps = list(plan.steps)
    lock = ctx.store.lock(service.name)
    if lock:
        steps[0] += f" (currently held: {lock.holder}: {lock.reason})"
    slots = {plan.to_color: plan.release_name}
    if plan.from_color and plan.from_release:
        slots[plan.from_color] = plan.from_release.name
    new_plan = plan_traffic(
        service,
        env,
        ctx.config.hosts,
        slots,
        plan.to_color,
        preview_slot=plan.from_color if plan.from_color in slots else None,
    )
    diff = await ctx.lbs.diff(new_plan)
    previous = plan.from_release.name if plan.from_release else None
    return DeployResult(None, Outcome.PLANNED, None, plan.release_name, previous, 0.0, steps, diff)
