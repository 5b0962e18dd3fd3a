"""Rollback: back to a release that was already built and proven, in one command.

Warm (its color still runs it): a swap only. Cold: start it from the stored
digest (no build, no CI), health-check, swap. It works while a deploy is in
progress (asks it to abort, or takes over from a dead one) and after the
console that started the deploy has died.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from console.core.config import EnvironmentTarget, ServiceConfig
from console.core.errors import Blocked, InvalidInput, ShipdeckError
from console.core.locking import held
from console.core.ops import releases as rel
from console.core.ops.context import OpContext
from console.core.ops.gate import check_swap
from console.core.ops.instances import check_slot_healthy, start_slot, stop_slot
from console.core.ops.results import OperationResult
from console.core.ops.rollout import (
    apply_traffic,
    other_color,
    record_traffic,
    running_slots,
    target,
)
from console.core.ops.traffic import plan_traffic
from console.core.store import Outcome, Release, TrafficRecord

ABORT_WAIT_S = 60.0


@dataclass
class RollbackResult(OperationResult):
    deployment_id: int | None
    outcome: str  # succeeded | failed | planned
    reason: str | None
    from_release: str | None
    to_release: str | None
    mode: str  # warm | cold | canary-abort
    duration_s: float
    plan: list[str] = field(default_factory=list)
    lb_diff: str = ""


def pick_target(
    ctx: OpContext, service: str, environment: str, wanted: str, live: Release | None
) -> Release:
    """``last-good``: the newest release, other than the live one, that was live and healthy."""
    candidates = ctx.store.releases(service, environment, limit=200)
    if wanted in ("last-good", "previous", ""):
        for release in candidates:
            if live is not None and release.id == live.id:
                continue
            if release.last_live_at is not None and release.last_healthy_at is not None:
                return release
        raise Blocked(f"{service}/{environment}: no previous healthy release to roll back to")
    for release in candidates:
        if wanted in (
            release.name,
            release.tag,
            release.image_ref,
            release.digest,
            str(release.id),
        ) or (
            len(wanted) >= 8
            and release.digest.removeprefix("sha256:").startswith(wanted.removeprefix("sha256:"))
        ):
            return release
    known = ", ".join(r.name for r in candidates[:10]) or "none"
    raise InvalidInput(f'{service}/{environment}: no retained release "{wanted}" (known: {known})')


async def _stop_running_deploy(ctx: OpContext, service: str, environment: str) -> list[int]:
    """Ask a live deploy to abort and wait for its lock; a dead one is taken over."""
    running = ctx.store.in_progress(service, environment)
    if not running:
        return []
    for deployment in running:
        ctx.store.add_event(
            deployment.id,
            "abort_requested",
            f"rollback requested by {ctx.operator}",
            ctx.clock.now(),
            {"operator": ctx.operator},
        )
        ctx.emit(
            "abort_requested",
            f"asked deployment #{deployment.id} to abort",
            None,
            deployment=deployment.id,
        )
    deadline = ctx.clock.monotonic() + ABORT_WAIT_S
    while ctx.clock.monotonic() < deadline:
        lock = ctx.store.lock(service)
        if lock is None or lock.is_stale(ctx.clock.now()):
            break
        still = [
            d
            for d in ctx.store.in_progress(service, environment)
            if d.id in {r.id for r in running}
        ]
        if not still:
            break
        await asyncio.sleep(0.2)
    lock = ctx.store.lock(service)
    if (
        lock is not None
        and not lock.is_stale(ctx.clock.now())
        and ctx.store.in_progress(service, environment)
    ):
        raise Blocked(
            f"{service}: the running deploy did not stop within {ABORT_WAIT_S:.0f}s ({lock.holder} still holds the lock)"
        )
    return [d.id for d in ctx.store.in_progress(service, environment)]


@dataclass(frozen=True)
class RollbackPlan:
    """What a rollback will do, decided once: ``--dry-run`` prints it and the
    run executes exactly it, so the two can never disagree."""

    service: str
    environment: str
    kind: str
    from_release: Release | None
    to_release: Release
    mode: str  # warm | cold | canary-abort
    live_color: str | None
    target_color: str
    canary_color: str | None  # the canary's color, removed from the LB and stopped
    standby_color: str | None  # the color left running as the preview/standby
    slots_after: tuple[tuple[str, str], ...]  # color → release the LB will route to
    release_ids_after: tuple[tuple[str, int | None], ...]  # color → release id, as recorded
    abort_deployments: tuple[int, ...]
    steps: tuple[str, ...]

    @property
    def from_name(self) -> str | None:
        return self.from_release.name if self.from_release else None

    def to_event(self) -> dict[str, Any]:
        """The plan as recorded in the deployment's first event (``history`` shows it)."""
        return {
            "mode": self.mode,
            "from_release": self.from_name,
            "to_release": self.to_release.name,
            "live_color": self.live_color,
            "target_color": self.target_color,
            "canary_color": self.canary_color,
            "standby_color": self.standby_color,
            "steps": list(self.steps),
        }


def choose_release(
    ctx: OpContext,
    service: ServiceConfig,
    env: EnvironmentTarget,
    to: str,
    kind: str,
    traffic: TrafficRecord | None,
    live: Release | None,
) -> Release:
    """The release to return to: where an in-progress rollout started, else the
    baseline of a canary, else ``pick_target``."""
    running = ctx.store.in_progress(service.name, env.name)
    if kind == "abort" and not running:
        raise Blocked(f"{service.name}/{env.name}: no rollout in progress to abort")
    chosen: Release | None = None
    if running and to in ("last-good", "previous", ""):
        # A deployment in progress (alive or interrupted) is undone: back to where it started.
        origin = running[-1].from_release
        chosen = ctx.store.release(origin) if origin is not None else live
    if chosen is None and kind == "abort":
        raise Blocked(
            f"{service.name}/{env.name}: the rollout has no previous release to return to"
        )
    if chosen is None:
        if traffic and traffic.canary_release and to in ("last-good", "previous", "") and live:
            chosen = live  # during a canary the baseline is the known-good release
        else:
            chosen = pick_target(ctx, service.name, env.name, to, live)
    return chosen


async def plan_rollback(
    ctx: OpContext,
    service: ServiceConfig,
    env: EnvironmentTarget,
    chosen: Release,
    kind: str,
) -> RollbackPlan:
    """Decide colors, mode and steps from the store and what the hosts run now."""
    traffic = ctx.store.traffic(service.name, env.name)
    live = rel.live_release(ctx.store, traffic)
    slots = await running_slots(ctx, service, env)
    live_color = traffic.live_color if traffic else None
    warm_color = next((c for c in ("blue", "green") if slots.get(c) == chosen.name), None)
    mode = "warm" if warm_color else "cold"
    target_color = warm_color or (other_color(live_color) if live_color else "blue")
    canary_color = None
    if traffic and traffic.canary_release:
        canary = ctx.store.release(traffic.canary_release)
        canary_color = next(
            (
                c
                for c in ("blue", "green")
                if canary and slots.get(c) == canary.name and c not in (live_color, target_color)
            ),
            None,
        )
        if target_color == live_color:
            mode = "canary-abort"
    slots_after = {c: r for c, r in slots.items() if c != canary_color}
    slots_after[target_color] = chosen.name
    standby = live_color if live_color in slots_after and live_color != target_color else None
    release_ids_after = tuple(
        (c, chosen.id if c == target_color else (traffic.release_of(c) if traffic else None))
        for c in sorted(slots_after)
    )
    running = tuple(d.id for d in ctx.store.in_progress(service.name, env.name))
    steps: list[str] = []
    if running:
        steps.append(f"ask deployment #{running[-1]} to abort (or take over if its process died)")
    steps.append(f"take the {service.name} lock")
    steps.append("check the migration gate")
    if warm_color is None:
        steps.append(
            f"start {chosen.name} on {target_color} from {chosen.image_ref}; health-check {service.health_path}"
        )
    else:
        steps.append(f"{chosen.name} is warm on {target_color}: health-check, swap only")
    steps.append(
        f"swap {env.listen_address}:{env.listen_port} from {live_color or 'nothing'} ({live.name if live else '-'}) to {target_color} ({chosen.name})"
    )
    if canary_color:
        steps.append(f"remove the canary ({canary_color}) from the LB and stop it")
    return RollbackPlan(
        service=service.name,
        environment=env.name,
        kind=kind,
        from_release=live,
        to_release=chosen,
        mode=mode,
        live_color=live_color,
        target_color=target_color,
        canary_color=canary_color,
        standby_color=standby,
        slots_after=tuple(sorted(slots_after.items())),
        release_ids_after=release_ids_after,
        abort_deployments=running,
        steps=tuple(steps),
    )


async def rollback(
    ctx: OpContext,
    service_name: str,
    environment: str,
    to: str = "last-good",
    *,
    dry_run: bool = False,
    kind: str = "rollback",
) -> RollbackResult:
    service, env = target(ctx, service_name, environment)
    started = ctx.clock.monotonic()
    traffic = ctx.store.traffic(service.name, env.name)
    live = rel.live_release(ctx.store, traffic)
    chosen = choose_release(ctx, service, env, to, kind, traffic, live)
    if dry_run:
        plan = await plan_rollback(ctx, service, env, chosen, kind)
        diff = await ctx.lbs.diff(
            plan_traffic(
                service,
                env,
                ctx.config.hosts,
                dict(plan.slots_after),
                plan.target_color,
                preview_slot=plan.standby_color,
            )
        )
        return RollbackResult(
            None,
            Outcome.PLANNED,
            None,
            plan.from_name,
            chosen.name,
            plan.mode,
            0.0,
            list(plan.steps),
            diff,
        )
    orphans = await _stop_running_deploy(ctx, service.name, env.name)
    # Take the lock; a lock left behind by a dead process (or by this operator's
    # own deploy, asked to stop above) is taken over, audited.
    async with held(
        ctx.store,
        service.name,
        ctx.operator,
        f"{kind} to {chosen.name}",
        ctx.config.lock_lease_s,
        ctx.clock,
        take_over=True,
    ):
        # Planned under the lock, after any running deploy stopped: the plan is
        # the world this run changes, and the same function --dry-run prints.
        plan = await plan_rollback(ctx, service, env, chosen, kind)
        deployment_id = ctx.store.start_deployment(
            service.name,
            env.name,
            "blue-green",
            kind,
            live.id if live else None,
            chosen.id,
            ctx.operator,
            ctx.clock.now(),
            {"to_release_id": chosen.id},
        )
        return await _execute(ctx, service, env, plan, deployment_id, orphans, started)


async def _execute(
    ctx: OpContext,
    service: ServiceConfig,
    env: EnvironmentTarget,
    plan: RollbackPlan,
    deployment_id: int,
    orphans: list[int],
    started: float,
) -> RollbackResult:
    """Run the plan: gate → bring the target up (cold) or check it (warm) → swap
    → stop the canary → close interrupted deployments → done."""
    store = ctx.store
    kind, chosen, from_name = plan.kind, plan.to_release, plan.from_name
    ctx.emit(
        f"{kind}_started",
        f"{kind} {service.name}/{env.name}: {from_name or 'nothing'} → {chosen.name}",
        deployment_id,
        service=service.name,
        environment=env.name,
        from_release=from_name,
        to_release=chosen.name,
        plan=plan.to_event(),
    )
    try:
        check_swap(
            chosen.name,
            rel.schema_of(chosen, service),
            rel.current_schema(store, service, env.name),
            is_rollback=True,
        )
        await _bring_up_target(ctx, service, env, plan, deployment_id)
        slots_after = dict(plan.slots_after)
        await apply_traffic(
            ctx,
            service,
            env,
            slots_after,
            plan.target_color,
            preview_slot=plan.standby_color,
            deployment_id=deployment_id,
        )
        colors: dict[str, int | None] = dict.fromkeys(("blue", "green"))
        colors.update(plan.release_ids_after)
        record_traffic(ctx, service.name, env.name, plan.target_color, colors)
        store.mark_release(chosen.id, ctx.clock.now(), live=True, healthy=True)
        if plan.canary_color:
            problems = await stop_slot(ctx.fleet, service, env, plan.canary_color)
            ctx.emit(
                "canary_stopped",
                "canary stopped" + (f" ({'; '.join(problems)})" if problems else ""),
                deployment_id,
            )
        for orphan in orphans:
            store.finish_deployment(
                orphan,
                Outcome.ABORTED,
                f"rolled back to {chosen.name} by {ctx.operator} ({kind} #{deployment_id})",
                ctx.clock.now(),
            )
            await _clean_orphan(ctx, service, env, orphan, plan.target_color, plan.standby_color)
        duration = ctx.clock.monotonic() - started
        store.finish_deployment(deployment_id, Outcome.SUCCEEDED, None, ctx.clock.now())
        text = f"{service.name}/{env.name}: rolled back {from_name or 'nothing'} → {chosen.name} ({plan.mode}) in {duration:.1f}s"
        ctx.emit(
            f"{kind}_succeeded", text, deployment_id, mode=plan.mode, duration_s=round(duration, 3)
        )
        await ctx.notify(
            service.name,
            kind,
            text,
            deployment_id=deployment_id,
            release=chosen.name,
            duration_s=duration,
        )
        return RollbackResult(
            deployment_id, Outcome.SUCCEEDED, None, from_name, chosen.name, plan.mode, duration
        )
    except ShipdeckError as error:
        store.finish_deployment(deployment_id, Outcome.FAILED, str(error), ctx.clock.now())
        ctx.emit(f"{kind}_failed", f"{kind} failed: {error}", deployment_id, reason=str(error))
        await ctx.notify(
            service.name,
            f"{kind}_failed",
            f"{service.name}/{env.name}: {kind} to {chosen.name} failed: {error}",
        )
        if isinstance(error, Blocked | InvalidInput):
            raise
        return RollbackResult(
            deployment_id,
            Outcome.FAILED,
            str(error),
            from_name,
            chosen.name,
            "unknown",
            ctx.clock.monotonic() - started,
        )


async def _bring_up_target(
    ctx: OpContext,
    service: ServiceConfig,
    env: EnvironmentTarget,
    plan: RollbackPlan,
    deployment_id: int,
) -> None:
    """Cold: start the release from its stored digest; warm: prove it still answers."""
    chosen, color = plan.to_release, plan.target_color
    if plan.mode == "cold":
        ctx.emit(
            "step",
            f"{chosen.name} is cold: starting it on {color} from {chosen.image_ref}",
            deployment_id,
        )
        await start_slot(ctx.fleet, service, env, color, chosen.name, chosen.image_ref)
    else:
        await check_slot_healthy(ctx.fleet, service, env, color)
        ctx.emit("step", f"{chosen.name} is warm on {color}: swap only", deployment_id)


async def _clean_orphan(
    ctx: OpContext,
    service: ServiceConfig,
    env: EnvironmentTarget,
    orphan_id: int,
    live_color: str | None,
    standby: str | None,
) -> None:
    """Stop containers an interrupted deploy started that no traffic points at."""
    deployment = ctx.store.deployment(orphan_id)
    if deployment is None:
        return
    slot = deployment.state.get("to_color") or deployment.state.get("canary_slot")
    release = ctx.store.release(deployment.to_release) if deployment.to_release else None
    if slot and slot not in (live_color, standby) and release is not None:
        await stop_slot(ctx.fleet, service, env, slot, release.name)
