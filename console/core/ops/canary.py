"""Canary rollouts: weighted steps, continuous analysis by the judge, automatic rollback.

The canary runs in the idle color with track ``canary``, beside the live color
(the baseline). The LB splits traffic by weight. Every step is persisted
before it acts, so ``deploy --resume`` continues from the recorded step and
``abort`` rolls back even when this process died. At 100% the canary simply
becomes the live color and the baseline stays warm, exactly as in blue-green.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from console.core.clock import iso
from console.core.config import CanaryStep, EnvironmentTarget, ServiceConfig
from console.core.errors import Blocked, InvalidInput, OperationFailed, ShipdeckError
from console.core.locking import held
from console.core.ops import releases as rel
from console.core.ops.bluegreen import (
    AbortWatch,
    DeployResult,
    _gate,
    _prune,
    _running_slots,
    apply_traffic,
    declaration,
    image_labels,
    other_color,
    record_traffic,
    target,
)
from console.core.ops.context import OpContext
from console.core.ops.instances import check_slot_healthy, start_slot, stop_slot
from console.core.ops.resume import claim_interrupted
from console.core.ops.traffic import plan_traffic
from console.core.ops.verify import run_smoke_tests


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


class RolloutSignals:
    """Promote/abort requests recorded as events by other processes (or the TUI)."""

    def __init__(self, ctx: OpContext, deployment_id: int) -> None:
        self.abort = AbortWatch(ctx, deployment_id)
        self.ctx = ctx
        self.deployment_id = deployment_id
        self._after = 0
        self.promote_requested_by: str | None = None

    def poll(self) -> None:
        for event in self.ctx.store.events(self.deployment_id, after_id=self._after, limit=1000):
            self._after = event.id
            if event.kind == "promote_requested":
                self.promote_requested_by = str(event.data.get("operator", "someone"))
        self.abort.check()


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


async def _rollout(ctx, request, service, env, started, resume_from) -> DeployResult:  # type: ignore[no-untyped-def]
    store = ctx.store
    traffic = store.traffic(service.name, env.name)
    if resume_from is not None:
        state = dict(resume_from.state)
        deployment_id = resume_from.id
        to_release = store.release(state["to_release_id"])
        baseline_color = state["from_color"]
        canary_color = state["to_color"]
        ctx.emit(
            "resumed",
            f"resuming canary #{deployment_id} at step {state.get('step_index', 0) + 1}",
            deployment_id,
        )
    else:
        if traffic is None or traffic.live_color is None:
            raise Blocked(
                f"{service.name}/{env.name}: a canary needs a live baseline; deploy the first release blue-green"
            )
        if store.in_progress(service.name, env.name):
            raise Blocked(
                f"{service.name}/{env.name}: another deployment is in progress; resume or abort it first"
            )
        choice = rel.parse_image_argument(service, request.image or "")
        image_ref = await rel.resolve(ctx.fleet, env, choice)
        labels = declaration(request, await image_labels(ctx, env, image_ref), service)  # type: ignore[arg-type]
        to_release = rel.record(
            store, service.name, env.name, choice.tag, image_ref, ctx.clock.now(), labels
        )
        baseline_color = traffic.live_color
        canary_color = other_color(baseline_color)
        state = {
            "strategy": "canary",
            "image_ref": image_ref,
            "to_release_id": to_release.id,
            "from_color": baseline_color,
            "to_color": canary_color,
            "step_index": 0,
            "weight_pct": 0,
            "steps": [s.describe() for s in service.canary_steps],
            "verdicts": [],
        }
        deployment_id = store.start_deployment(
            service.name,
            env.name,
            "canary",
            "deploy",
            traffic.release_of(baseline_color),
            to_release.id,
            ctx.operator,
            ctx.clock.now(),
            state,
        )
        ctx.emit(
            "deploy_started",
            f"canary of {to_release.name} on {service.name}/{env.name} beside baseline on {baseline_color}",
            deployment_id,
            service=service.name,
            environment=env.name,
            release=to_release.name,
            image=image_ref,
            strategy="canary",
        )
    baseline = rel.live_release(store, traffic)
    signals = RolloutSignals(ctx, deployment_id)

    def persist(step_name: str, **extra: Any) -> None:
        state.update(extra)
        store.update_deployment(deployment_id, ctx.clock.now(), step=step_name, state=state)

    async def set_weight(weight: int) -> None:
        slots = await _running_slots(ctx, service, env)
        if canary_color not in slots:
            raise OperationFailed(f"canary {to_release.name} is not running on every host")
        persist(f"weight {weight}%", weight_pct=weight)
        await apply_traffic(
            ctx,
            service,
            env,
            slots,
            baseline_color,
            weight,
            canary_slot=canary_color,
            deployment_id=deployment_id,
        )
        colors = {c: traffic.release_of(c) for c in ("blue", "green")}
        colors[canary_color] = to_release.id
        record_traffic(ctx, service.name, env.name, baseline_color, colors, to_release.id, weight)
        ctx.emit("weight_set", f"canary weight {weight}%", deployment_id, weight_pct=weight)

    try:
        if (
            resume_from is None
            or state.get("step_index", 0) == 0
            and not state.get("canary_started")
        ):
            persist("starting")
            await start_slot(
                ctx.fleet,
                service,
                env,
                canary_color,
                to_release.name,
                state["image_ref"],
                track="canary",
            )
            ctx.emit(
                "healthy", f"canary {to_release.name} healthy on {canary_color}", deployment_id
            )
            passed = await run_smoke_tests(ctx.fleet, service, env, canary_color)
            ctx.emit(
                "smoke_passed", f"{len(passed)} smoke checks passed", deployment_id, checks=passed
            )
            _gate(ctx, service, env, to_release, baseline)
            persist("started", canary_started=True)
        else:
            await check_slot_healthy(ctx.fleet, service, env, canary_color)
            await check_slot_healthy(ctx.fleet, service, env, baseline_color)
            ctx.emit("step", "re-checked health of canary and baseline", deployment_id)
            if state.get("weight_pct"):
                await set_weight(int(state["weight_pct"]))
        steps: tuple[CanaryStep, ...] = service.canary_steps
        index = int(state.get("step_index", 0))
        extended: set[int] = set(state.get("extended", []))
        while index < len(steps):
            step = steps[index]
            persist(
                f"step {index + 1}/{len(steps)}: {step.describe()}",
                step_index=index,
                step_ends_at=None,
            )
            ctx.emit(
                "step_started",
                f"step {index + 1}/{len(steps)}: {step.describe()}",
                deployment_id,
                step_index=index,
                step=step.describe(),
            )
            signals.poll()
            if signals.promote_requested_by and step.kind != "weight":
                index += 1
                continue
            if step.kind == "weight" and step.weight_pct == 100:
                break  # full weight: the canary becomes the live color below
            if step.kind == "weight":
                await set_weight(int(step.weight_pct or 0))
            elif step.kind == "pause":
                await _pause(ctx, step, signals, persist, deployment_id)
            else:
                outcome = await _analyse(
                    ctx,
                    service,
                    env,
                    step,
                    signals,
                    persist,
                    deployment_id,
                    baseline_color,
                    canary_color,
                    to_release.name,
                    baseline,
                )
                if outcome == "fail":
                    raise OperationFailed(state.get("fail_reason") or "analysis failed")
                if outcome == "inconclusive":
                    policy = template_for(ctx, step.analysis or service.analysis).on_inconclusive
                    if policy == "rollback":
                        raise OperationFailed(
                            "analysis inconclusive: "
                            + (state.get("last_reason") or "too little data")
                        )
                    if policy == "extend" and index not in extended:
                        extended.add(index)
                        persist("extending", extended=sorted(extended))
                        ctx.emit(
                            "step_extended",
                            f"analysis inconclusive: extending step {index + 1} once",
                            deployment_id,
                        )
                        continue
                    ctx.emit(
                        "paused",
                        "analysis inconclusive: holding the current weight until promoted or aborted",
                        deployment_id,
                        weight_pct=state.get("weight_pct"),
                    )
                    await _pause(
                        ctx, CanaryStep(manual_pause=True), signals, persist, deployment_id
                    )
            if signals.promote_requested_by:
                ctx.emit(
                    "promoted",
                    f"promote requested by {signals.promote_requested_by}: skipping to 100%",
                    deployment_id,
                )
                break
            index += 1
            persist(f"step {index}/{len(steps)} done", step_index=index)
        # 100%: the canary color becomes live; the baseline stays warm.
        slots = await _running_slots(ctx, service, env)
        await apply_traffic(
            ctx,
            service,
            env,
            slots,
            canary_color,
            preview_slot=baseline_color,
            deployment_id=deployment_id,
        )
        colors = {c: traffic.release_of(c) for c in ("blue", "green")}
        colors[canary_color] = to_release.id
        record_traffic(ctx, service.name, env.name, canary_color, colors)
        store.mark_release(to_release.id, ctx.clock.now(), live=True, healthy=True)
        persist("done", weight_pct=100)
        store.finish_deployment(deployment_id, "succeeded", None, ctx.clock.now())
        await _prune(ctx, service, env)
        text = f"{service.name}/{env.name}: canary {to_release.name} promoted to 100% ({baseline.name if baseline else '-'} warm on {baseline_color})"
        ctx.emit("promoted_full", text, deployment_id, release=to_release.name)
        await ctx.notify(service.name, "deploy_succeeded", text, deployment_id=deployment_id)
        return DeployResult(
            deployment_id,
            "succeeded",
            None,
            to_release.name,
            baseline.name if baseline else None,
            ctx.clock.monotonic() - started,
        )
    except (ShipdeckError, asyncio.CancelledError) as error:
        reason = "cancelled" if isinstance(error, asyncio.CancelledError) else str(error)
        await _roll_back(
            ctx,
            service,
            env,
            deployment_id,
            baseline_color,
            canary_color,
            to_release,
            traffic,
            reason,
        )
        if isinstance(error, asyncio.CancelledError):
            raise
        return DeployResult(
            deployment_id,
            "rolled_back",
            reason,
            to_release.name,
            baseline.name if baseline else None,
            ctx.clock.monotonic() - started,
        )


async def _pause(ctx, step, signals, persist, deployment_id) -> None:  # type: ignore[no-untyped-def]
    ends = None if step.manual_pause else ctx.clock.monotonic() + (step.pause_s or 0)
    if ends is not None:
        persist(
            "pausing",
            step_ends_at=iso(ctx.clock.now())
            if step.pause_s == 0
            else _wall_after(ctx, step.pause_s),
        )
    else:
        persist("paused: waiting for promote", step_ends_at=None)
    while ends is None or ctx.clock.monotonic() < ends:
        signals.poll()
        if signals.promote_requested_by:
            return
        await asyncio.sleep(
            0.5 if ends is None else min(0.5, max(0.0, ends - ctx.clock.monotonic()))
        )


def _wall_after(ctx: OpContext, seconds: float | None) -> str | None:
    from datetime import timedelta

    return iso(ctx.clock.now() + timedelta(seconds=seconds or 0))


async def _analyse(
    ctx,
    service,
    env,
    step,
    signals,
    persist,
    deployment_id,
    baseline_color,
    canary_color,
    release_name,
    baseline,
) -> str:  # type: ignore[no-untyped-def]
    """Feed the judge every interval; stop at the first fail; decide at the step's end."""
    from console.core.judge.judge import Judge
    from console.core.ops.sampling import make_sampler

    template = template_for(ctx, step.analysis or service.analysis)
    sampler = make_sampler(
        ctx,
        service,
        env,
        baseline_color,
        canary_color,
        release_name,
        baseline.name if baseline else "",
        weight=lambda: ctx.store.deployment(deployment_id).state.get("weight_pct"),
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
    persist(
        f"analysis {step.analysis or service.analysis}", step_ends_at=_wall_after(ctx, duration_s)
    )
    verdict = None
    try:
        await sampler.start()
        while True:
            remaining = ends - ctx.clock.monotonic()
            if remaining < interval_s / 2:
                break  # a sliver of an interval would be judged as "no data"
            await asyncio.sleep(min(interval_s, remaining))
            signals.poll()
            sample = await sampler.sample()
            verdict = judge.observe(sample)
            docs = [
                {"name": m.name, "verdict": str(m.verdict), "explanation": m.explanation}
                for m in verdict.metrics
            ]
            persist(
                f"analysis {step.analysis or service.analysis}",
                verdicts=docs,
                overall=str(verdict.overall),
                last_reason="; ".join(
                    m.explanation for m in verdict.metrics if str(m.verdict) != "pass"
                ),
            )
            ctx.emit(
                "analysis",
                f"analysis look {verdict.look}: {verdict.overall}",
                deployment_id,
                overall=str(verdict.overall),
                metrics=docs,
                look=verdict.look,
                samples=sampler.display(),
            )
            if str(verdict.overall) == "fail":
                failed = [m for m in verdict.metrics if str(m.verdict) == "fail"]
                persist("analysis failed", fail_reason="; ".join(m.explanation for m in failed))
                return "fail"
            if signals.promote_requested_by:
                break
    finally:
        await sampler.close()
    if verdict is None:
        persist("analysis inconclusive", last_reason="no look completed")
        return "inconclusive"
    return "pass" if str(verdict.overall) == "pass" else "inconclusive"


async def _roll_back(
    ctx, service, env, deployment_id, baseline_color, canary_color, to_release, traffic, reason
) -> None:  # type: ignore[no-untyped-def]
    """Weights back to 100% baseline, canary stopped, recorded, notified."""
    store = ctx.store
    problems: list[str] = []
    try:
        slots = await _running_slots(ctx, service, env)
        if baseline_color in slots:
            keep = {k: v for k, v in slots.items() if k != canary_color}
            await apply_traffic(
                ctx, service, env, keep, baseline_color, deployment_id=deployment_id
            )
            colors = {c: traffic.release_of(c) for c in ("blue", "green")}
            colors[canary_color] = None
            record_traffic(ctx, service.name, env.name, baseline_color, colors)
        else:
            problems.append(f"baseline {baseline_color} is not running: traffic left as it is")
    except ShipdeckError as error:
        problems.append(f"could not restore traffic: {error}")
    if not problems:
        problems += await stop_slot(ctx.fleet, service, env, canary_color, to_release.name)
    final = reason + (f" ({'; '.join(problems)})" if problems else "")
    store.finish_deployment(deployment_id, "rolled_back", final, ctx.clock.now())
    text = f"{service.name}/{env.name}: canary {to_release.name} rolled back: {final}"
    ctx.emit("rolled_back", text, deployment_id, reason=final)
    await ctx.notify(service.name, "rollback", text, deployment_id=deployment_id)


async def plan_canary(
    ctx: OpContext, request: CanaryRequest, service: ServiceConfig, env: EnvironmentTarget
) -> DeployResult:
    choice = rel.parse_image_argument(service, request.image or "")
    image_ref = await rel.resolve(ctx.fleet, env, choice)
    traffic = ctx.store.traffic(service.name, env.name)
    if traffic is None or traffic.live_color is None:
        raise Blocked(
            f"{service.name}/{env.name}: a canary needs a live baseline; deploy the first release blue-green"
        )
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
    first_weight = next((s.weight_pct for s in service.canary_steps if s.weight_pct), 0)
    slots = {traffic.live_color: baseline.name if baseline else "?", canary_color: name}
    plan = plan_traffic(
        service,
        env,
        ctx.config.hosts,
        slots,
        traffic.live_color,
        int(first_weight or 0),
        canary_slot=canary_color,
    )
    diff = await ctx.lbs.diff(plan)
    return DeployResult(
        None, "planned", None, name, baseline.name if baseline else None, 0.0, steps, diff
    )


async def request_signal(ctx: OpContext, service: str, environment: str, kind: str) -> int:
    """Record promote/abort for the running rollout; returns the deployment id."""
    running = ctx.store.in_progress(service, environment)
    if not running:
        raise Blocked(f"{service}/{environment}: no rollout in progress")
    deployment = running[-1]
    ctx.store.add_event(
        deployment.id,
        f"{kind}_requested",
        f"{kind} requested by {ctx.operator}",
        ctx.clock.now(),
        {"operator": ctx.operator},
    )
    return deployment.id
