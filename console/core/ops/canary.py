"""Canary rollouts: weighted steps, continuous analysis by the judge, automatic rollback.

The canary runs in the idle color with track ``canary``, beside the live color
(the baseline). The LB splits traffic by weight. Every step is persisted
before it acts, so ``deploy --resume`` continues from the recorded step and
``abort`` rolls back even when this process died. At 100% the canary simply
becomes the live color and the baseline stays warm, exactly as in blue-green.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from console.core.clock import iso
from console.core.config import CanaryStep, EnvironmentTarget, ServiceConfig
from console.core.errors import Blocked, InvalidInput, OperationFailed, ShipdeckError
from console.core.locking import held
from console.core.ops import releases as rel
from console.core.ops import rollout
from console.core.ops.bluegreen import DeployResult
from console.core.ops.context import OpContext
from console.core.ops.instances import check_slot_healthy, start_slot, stop_slot
from console.core.ops.resume import claim_interrupted
from console.core.ops.rollout import (
    DeployPlan,
    RolloutSignals,
    other_color,
    record_deployment,
    target,
)
from console.core.ops.traffic import plan_traffic
from console.core.ops.verify import run_smoke_tests
from console.core.store import Outcome, Release, TrafficRecord
from console.core.store.model import Deployment
from engines.metrics.records import IntervalSample


@dataclass(frozen=True)
class CanaryRequest:
    service: str
    environment: str
    image: str | None
    lock_wait_s: float = 0.0
    dry_run: bool = False
    resume: bool = False
    schema_needs: int | None = None
    schema_supports: int | None = None


def template_for(ctx: OpContext, name: str) -> Any:
    templates = ctx.config.analysis_templates
    if name in templates:
        return templates[name]
    from console.core.judge.template import AnalysisTemplate

    if name == "default":
        return AnalysisTemplate.from_mapping({}, "analysis.default")
    raise InvalidInput(f'unknown analysis template "{name}"')


async def deploy_canary(ctx: OpContext, request: CanaryRequest) -> DeployResult:
    service, env = target(ctx, request.service, request.environment)
    if request.dry_run:
        return await plan_canary(ctx, request, service, env)
    resume_from = claim_interrupted(ctx, service.name, env.name) if request.resume else None
    started = ctx.clock.monotonic()
    async with held(
        ctx.store,
        service.name,
        ctx.operator,
        f"canary {request.image or 'resume'} to {env.name}",
        ctx.config.lock_lease_s,
        ctx.clock,
        request.lock_wait_s,
    ):
        return await _rollout(ctx, request, service, env, started, resume_from)


async def _rollout(
    ctx: OpContext,
    request: CanaryRequest,
    service: ServiceConfig,
    env: EnvironmentTarget,
    started: float,
    resume_from: Deployment | None,
) -> DeployResult:
    run = (
        _resumed_run(ctx, service, env, resume_from)
        if resume_from is not None
        else await _new_run(ctx, request, service, env)
    )
    try:
        if resume_from is None or (
            run.state.get("step_index", 0) == 0 and not run.state.get("canary_started")
        ):
            await run.start_canary()
        else:
            await run.recheck()
        await run.walk_steps()
        await run.become_live()
        return run.result(Outcome.SUCCEEDED, None, started)
    except (ShipdeckError, asyncio.CancelledError) as error:
        reason = "cancelled" if isinstance(error, asyncio.CancelledError) else str(error)
        await run.roll_back(reason)
        if isinstance(error, asyncio.CancelledError):
            raise
        return run.result(Outcome.ROLLED_BACK, reason, started)


async def _new_run(
    ctx: OpContext, request: CanaryRequest, service: ServiceConfig, env: EnvironmentTarget
) -> CanaryRun:
    """Resolve the image, record the release and the deployment: nothing runs yet."""
    store = ctx.store
    plan = await plan_canary_deploy(ctx, request, service, env)
    traffic = store.traffic(service.name, env.name)
    assert traffic is not None  # plan_canary_deploy refuses a service with no baseline
    baseline_color = plan.from_color
    canary_color = plan.to_color
    assert baseline_color is not None
    deployment_id, to_release, state = await record_deployment(
        ctx,
        service,
        env,
        request,
        plan,
        {
            "step_index": 0,
            "weight_pct": 0,
            "steps": [s.describe() for s in service.canary_steps],
            "verdicts": [],
        },
        f"canary of {{release}} on {service.name}/{env.name} beside baseline on {baseline_color}",
        strategy="canary",
    )
    return CanaryRun(
        ctx, service, env, deployment_id, state, to_release, traffic, baseline_color, canary_color
    )


def _resumed_run(
    ctx: OpContext, service: ServiceConfig, env: EnvironmentTarget, deployment: Deployment
) -> CanaryRun:
    state = dict(deployment.state)
    traffic = ctx.store.traffic(service.name, env.name)
    if traffic is None:
        raise Blocked(f"{service.name}/{env.name}: no traffic record; abort the rollout instead")
    ctx.emit(
        "resumed",
        f"resuming canary #{deployment.id} at step {state.get('step_index', 0) + 1}",
        deployment.id,
    )
    to_release = ctx.store.release(state["to_release_id"])
    assert to_release is not None  # a recorded deployment always names its release
    return CanaryRun(
        ctx,
        service,
        env,
        deployment.id,
        state,
        to_release,
        traffic,
        state["from_color"],
        state["to_color"],
    )


@dataclass
class CanaryRun:
    """One canary rollout in flight: what it deploys, beside what, and its persisted state.

    ``state`` is written to the store before every action, so a process that
    dies mid-step leaves enough behind for ``--resume`` or ``abort``.
    """

    ctx: OpContext
    service: ServiceConfig
    env: EnvironmentTarget
    deployment_id: int
    state: dict[str, Any]
    to_release: Release
    traffic: TrafficRecord  # as recorded when the rollout started or resumed
    baseline_color: str
    canary_color: str
    baseline: Release | None = field(init=False)
    signals: RolloutSignals = field(init=False)

    def __post_init__(self) -> None:
        self.baseline = rel.live_release(self.ctx.store, self.traffic)
        self.signals = RolloutSignals(self.ctx, self.deployment_id)

    def persist(self, step_name: str, **extra: Any) -> None:
        self.state.update(extra)
        self.ctx.store.update_deployment(
            self.deployment_id, self.ctx.clock.now(), step=step_name, state=self.state
        )

    def emit(self, event: str, message: str, **fields: Any) -> None:
        self.ctx.emit(event, message, self.deployment_id, **fields)

    def colors_with_canary(self, release_id: int | None) -> dict[str, int | None]:
        colors = {c: self.traffic.release_of(c) for c in ("blue", "green")}
        colors[self.canary_color] = release_id
        return colors

    async def start_canary(self) -> None:
        """Start the canary containers, prove them healthy, smoke-test them, check the gate."""
        ctx, service, env = self.ctx, self.service, self.env
        self.persist("starting")
        await start_slot(
            ctx.fleet,
            service,
            env,
            self.canary_color,
            self.to_release.name,
            self.state["image_ref"],
            track="canary",
        )
        self.emit("healthy", f"canary {self.to_release.name} healthy on {self.canary_color}")
        passed = await run_smoke_tests(ctx.fleet, service, env, self.canary_color)
        self.emit("smoke_passed", f"{len(passed)} smoke checks passed", checks=passed)
        rollout.check_release_gate(ctx, service, env, self.to_release, self.baseline)
        self.persist("started", canary_started=True)

    async def recheck(self) -> None:
        """After a resume: both arms must still be healthy before any weight is restored."""
        await check_slot_healthy(self.ctx.fleet, self.service, self.env, self.canary_color)
        await check_slot_healthy(self.ctx.fleet, self.service, self.env, self.baseline_color)
        self.emit("step", "re-checked health of canary and baseline")
        if self.state.get("weight_pct"):
            await self.set_weight(int(self.state["weight_pct"]))

    def recorded_weight_pct(self) -> float | None:
        """The canary weight as persisted now (the sampler splits counts by it)."""
        deployment = self.ctx.store.deployment(self.deployment_id)
        weight = deployment.state.get("weight_pct") if deployment else None
        return float(weight) if isinstance(weight, int | float) else None

    async def set_weight(self, weight: int) -> None:
        slots = await rollout.running_slots(self.ctx, self.service, self.env)
        if self.canary_color not in slots:
            raise OperationFailed(f"canary {self.to_release.name} is not running on every host")
        self.persist(f"weight {weight}%", weight_pct=weight)
        await rollout.apply_traffic(
            self.ctx,
            self.service,
            self.env,
            slots,
            self.baseline_color,
            weight,
            canary_slot=self.canary_color,
            deployment_id=self.deployment_id,
        )
        rollout.record_traffic(
            self.ctx,
            self.service.name,
            self.env.name,
            self.baseline_color,
            self.colors_with_canary(self.to_release.id),
            self.to_release.id,
            weight,
        )
        self.emit("weight_set", f"canary weight {weight}%", weight_pct=weight)

    async def walk_steps(self) -> None:
        """Every configured step from the recorded one, until 100% or a promote."""
        steps: tuple[CanaryStep, ...] = self.service.canary_steps
        index = int(self.state.get("step_index", 0))
        extended: set[int] = set(self.state.get("extended", []))
        signals = self.signals
        while index < len(steps):
            step = steps[index]
            label = f"step {index + 1}/{len(steps)}: {step.describe()}"
            self.persist(label, step_index=index, step_ends_at=None)
            self.emit("step_started", label, step_index=index, step=step.describe())
            signals.check()
            if signals.promote_requested_by and step.kind != "weight":
                index += 1
                continue
            if step.kind == "weight" and step.weight_pct == 100:
                return  # full weight: the canary becomes the live color
            if step.kind == "weight":
                await self.set_weight(int(step.weight_pct or 0))
            elif step.kind == "pause":
                await self.pause(step)
            else:
                outcome = await self.analyse(step)
                if outcome == "fail":
                    raise OperationFailed(self.state.get("fail_reason") or "analysis failed")
                if outcome == "inconclusive" and not await self.settle_inconclusive(
                    step, index, extended
                ):
                    continue  # the same step again, once
            if signals.promote_requested_by:
                self.emit(
                    "promoted",
                    f"promote requested by {signals.promote_requested_by}: skipping to 100%",
                )
                return
            index += 1
            self.persist(f"step {index}/{len(steps)} done", step_index=index)

    async def settle_inconclusive(self, step: CanaryStep, index: int, extended: set[int]) -> bool:
        """Apply the template's ``on_inconclusive``; False means "run this step again"."""
        policy = template_for(self.ctx, step.analysis or self.service.analysis).on_inconclusive
        if policy == "rollback":
            raise OperationFailed(
                "analysis inconclusive: " + (self.state.get("last_reason") or "too little data")
            )
        if policy == "extend" and index not in extended:
            extended.add(index)
            self.persist("extending", extended=sorted(extended))
            self.emit("step_extended", f"analysis inconclusive: extending step {index + 1} once")
            return False
        self.emit(
            "paused",
            "analysis inconclusive: holding the current weight until promoted or aborted",
            weight_pct=self.state.get("weight_pct"),
        )
        await self.pause(CanaryStep(manual_pause=True))
        return True

    async def pause(self, step: CanaryStep) -> None:
        """A timed pause, or (manual) until someone promotes; abort ends either."""
        ctx = self.ctx
        ends = None if step.manual_pause else ctx.clock.monotonic() + (step.pause_s or 0)
        if ends is not None:
            self.persist(
                "pausing",
                step_ends_at=iso(ctx.clock.now())
                if step.pause_s == 0
                else _wall_after(ctx, step.pause_s),
            )
        else:
            self.persist("paused: waiting for promote", step_ends_at=None)
        while ends is None or ctx.clock.monotonic() < ends:
            self.signals.check()
            if self.signals.promote_requested_by:
                return
            await asyncio.sleep(
                0.5 if ends is None else min(0.5, max(0.0, ends - ctx.clock.monotonic()))
            )

    async def analyse(self, step: CanaryStep) -> str:
        """Feed the judge every interval; stop at the first fail; decide at the step's end."""
        from console.core.judge.judge import Judge
        from console.core.ops.sampling import make_sampler

        ctx = self.ctx
        name = step.analysis or self.service.analysis
        template = template_for(ctx, name)
        sampler = make_sampler(
            ctx,
            self.service,
            self.env,
            self.baseline_color,
            self.canary_color,
            self.to_release.name,
            self.baseline.name if self.baseline else "",
            weight=self.recorded_weight_pct,
        )
        reference = await sampler.baseline_reference()
        judge = Judge(template, baseline_reference=reference)
        interval_s = float(
            ctx.config.metrics.scrape_interval_s
            if ctx.config.metrics.prometheus_url is None
            else template.interval_s
        )
        interval_s = min(interval_s, float(template.interval_s))
        duration_s = float(step.duration_s or 0)
        ends = ctx.clock.monotonic() + duration_s
        self.persist(f"analysis {name}", step_ends_at=_wall_after(ctx, duration_s))
        verdict = None
        sample = None
        grace_looks = 0
        try:
            await sampler.start()
            while True:
                # every look covers a whole interval: a partial one may hold no
                # scrape and read as "no data". When the step's last look had no
                # data, look again (at most GRACE_LOOKS times) before deciding.
                if ctx.clock.monotonic() >= ends:
                    if sample is None or not _lacks_data(sample) or grace_looks >= GRACE_LOOKS:
                        break
                    grace_looks += 1
                await asyncio.sleep(interval_s)
                self.signals.check()
                sample = await sampler.sample()
                verdict = judge.observe(sample)
                docs = [
                    {"name": m.name, "verdict": str(m.verdict), "explanation": m.explanation}
                    for m in verdict.metrics
                ]
                self.persist(
                    f"analysis {name}",
                    verdicts=docs,
                    overall=str(verdict.overall),
                    last_reason="; ".join(
                        m.explanation for m in verdict.metrics if str(m.verdict) != "pass"
                    ),
                )
                self.emit(
                    "analysis",
                    f"analysis look {verdict.look}: {verdict.overall}",
                    overall=str(verdict.overall),
                    metrics=docs,
                    look=verdict.look,
                    samples=sampler.display(),
                )
                if str(verdict.overall) == "fail":
                    failed = [m for m in verdict.metrics if str(m.verdict) == "fail"]
                    self.persist(
                        "analysis failed", fail_reason="; ".join(m.explanation for m in failed)
                    )
                    return "fail"
                if self.signals.promote_requested_by:
                    break
        finally:
            await sampler.close()
        if verdict is None:
            self.persist("analysis inconclusive", last_reason="no look completed")
            return "inconclusive"
        return "pass" if str(verdict.overall) == "pass" else "inconclusive"

    async def become_live(self) -> None:
        """100%: the canary color becomes live; the baseline stays warm."""
        ctx, service, env = self.ctx, self.service, self.env
        slots = await rollout.running_slots(ctx, service, env)
        await rollout.apply_traffic(
            ctx,
            service,
            env,
            slots,
            self.canary_color,
            preview_slot=self.baseline_color,
            deployment_id=self.deployment_id,
        )
        rollout.record_traffic(
            ctx,
            service.name,
            env.name,
            self.canary_color,
            self.colors_with_canary(self.to_release.id),
        )
        ctx.store.mark_release(self.to_release.id, ctx.clock.now(), live=True, healthy=True)
        self.persist("done", weight_pct=100)
        ctx.store.finish_deployment(self.deployment_id, Outcome.SUCCEEDED, None, ctx.clock.now())
        await rollout.prune_releases(ctx, service, env)
        baseline = self.baseline.name if self.baseline else "-"
        text = (
            f"{service.name}/{env.name}: canary {self.to_release.name} promoted to 100%"
            f" ({baseline} warm on {self.baseline_color})"
        )
        self.emit("promoted_full", text, release=self.to_release.name)
        await ctx.notify(service.name, "deploy_succeeded", text, deployment_id=self.deployment_id)

    async def roll_back(self, reason: str) -> None:
        """Weights back to 100% baseline, canary stopped, recorded, notified."""
        ctx, service, env = self.ctx, self.service, self.env
        problems: list[str] = []
        try:
            slots = await rollout.running_slots(ctx, service, env)
            if self.baseline_color in slots:
                keep = {k: v for k, v in slots.items() if k != self.canary_color}
                await rollout.apply_traffic(
                    ctx, service, env, keep, self.baseline_color, deployment_id=self.deployment_id
                )
                rollout.record_traffic(
                    ctx, service.name, env.name, self.baseline_color, self.colors_with_canary(None)
                )
            else:
                problems.append(
                    f"baseline {self.baseline_color} is not running: traffic left as it is"
                )
        except ShipdeckError as error:
            problems.append(f"could not restore traffic: {error}")
        if not problems:
            problems += await stop_slot(
                ctx.fleet, service, env, self.canary_color, self.to_release.name
            )
        final = reason + (f" ({'; '.join(problems)})" if problems else "")
        ctx.store.finish_deployment(self.deployment_id, Outcome.ROLLED_BACK, final, ctx.clock.now())
        text = f"{service.name}/{env.name}: canary {self.to_release.name} rolled back: {final}"
        self.emit("rolled_back", text, reason=final)
        await ctx.notify(service.name, "rollback", text, deployment_id=self.deployment_id)

    def result(self, outcome: str, reason: str | None, started: float) -> DeployResult:
        return DeployResult(
            self.deployment_id,
            outcome,
            reason,
            self.to_release.name,
            self.baseline.name if self.baseline else None,
            self.ctx.clock.monotonic() - started,
        )


GRACE_LOOKS = 2


def _lacks_data(sample: IntervalSample) -> bool:
    return sample.reason is not None or sample.canary is None or sample.baseline is None


def _wall_after(ctx: OpContext, seconds: float | None) -> str | None:
    from datetime import timedelta

    return iso(ctx.clock.now() + timedelta(seconds=seconds or 0))


async def plan_canary_deploy(
    ctx: OpContext, request: CanaryRequest, service: ServiceConfig, env: EnvironmentTarget
) -> DeployPlan:
    """Resolve the image and decide colors and steps; refuses what the run would refuse."""
    traffic = ctx.store.traffic(service.name, env.name)
    if traffic is None or traffic.live_color is None:
        raise Blocked(
            f"{service.name}/{env.name}: a canary needs a live baseline; deploy the first release blue-green"
        )
    if ctx.store.in_progress(service.name, env.name):
        raise Blocked(
            f"{service.name}/{env.name}: another deployment is in progress; resume or abort it first"
        )
    choice = rel.parse_image_argument(service, request.image or "")
    image_ref = await rel.resolve(ctx.fleet, env, choice)
    baseline = rel.live_release(ctx.store, traffic)
    canary_color = other_color(traffic.live_color)
    name = (
        rel.release_name_for(ctx.store, service.name, env.name, choice.tag, image_ref)
        or image_ref[-12:]
    )
    steps = [
        f"resolve {choice.reference} → {image_ref}",
        f"start {name} on {canary_color} (track canary) beside baseline {baseline.name if baseline else '-'} on {traffic.live_color}",
        "smoke tests and migration gate",
    ]
    steps += [f"step {i}: {s.describe()}" for i, s in enumerate(service.canary_steps, 1)]
    steps.append(f"{canary_color} becomes live; {traffic.live_color} stays warm")
    return DeployPlan(
        service=service.name,
        environment=env.name,
        strategy="canary",
        reference=choice.reference,
        tag=choice.tag,
        image_ref=image_ref,
        release_name=name,
        from_color=traffic.live_color,
        to_color=canary_color,
        from_release=baseline,
        steps=tuple(steps),
    )


async def plan_canary(
    ctx: OpContext, request: CanaryRequest, service: ServiceConfig, env: EnvironmentTarget
) -> DeployResult:
    """``--dry-run``: the plan and the LB diff of the first weighted step; changes nothing."""
    plan = await plan_canary_deploy(ctx, request, service, env)
    assert plan.from_color is not None
    baseline = plan.from_release
    first_weight = next((s.weight_pct for s in service.canary_steps if s.weight_pct), 0)
    slots = {plan.from_color: baseline.name if baseline else "?", plan.to_color: plan.release_name}
    traffic_plan = plan_traffic(
        service,
        env,
        ctx.config.hosts,
        slots,
        plan.from_color,
        int(first_weight or 0),
        canary_slot=plan.to_color,
    )
    diff = await ctx.lbs.diff(traffic_plan)
    previous = baseline.name if baseline else None
    return DeployResult(
        None, Outcome.PLANNED, None, plan.release_name, previous, 0.0, list(plan.steps), diff
    )


def plan_promote(ctx: OpContext, service: str, environment: str) -> tuple[int, tuple[str, ...]]:
    """The running canary a promote would steer, and what the rollout will do with it."""
    running = ctx.store.in_progress(service, environment)
    if not running:
        raise Blocked(f"{service}/{environment}: no rollout in progress")
    deployment = running[-1]
    if deployment.strategy != "canary":
        raise Blocked(
            f"{service}/{environment}: deployment #{deployment.id} is {deployment.strategy}; "
            "only a canary can be promoted"
        )
    to_release = ctx.store.release(deployment.to_release) if deployment.to_release else None
    baseline = ctx.store.release(deployment.from_release) if deployment.from_release else None
    step = deployment.state.get("step_index")
    where = f"step {int(step) + 1}" if isinstance(step, int) else "its current step"
    weight = deployment.state.get("weight_pct") or 0
    steps = (
        f"record a promote request on deployment #{deployment.id} (canary "
        f"{to_release.name if to_release else '?'}, at {where}, {weight}%)",
        "the rollout finishes its current analysis look (a failing look still rolls back)",
        "skip the remaining steps: 100% to the canary; baseline "
        f"{baseline.name if baseline else '-'} stays warm",
    )
    return deployment.id, steps


async def request_signal(ctx: OpContext, service: str, environment: str, kind: str) -> int:
    """Record promote/abort for the running rollout; returns the deployment id."""
    if kind == "promote":
        deployment_id, steps = plan_promote(ctx, service, environment)
    else:
        running = ctx.store.in_progress(service, environment)
        if not running:
            raise Blocked(f"{service}/{environment}: no rollout in progress")
        deployment_id, steps = running[-1].id, ()
    ctx.store.add_event(
        deployment_id,
        f"{kind}_requested",
        f"{kind} requested by {ctx.operator}",
        ctx.clock.now(),
        {"operator": ctx.operator, **({"plan": list(steps)} if steps else {})},
    )
    return deployment_id
