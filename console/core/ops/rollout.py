"""The steps every rollout shares: where releases run, moving traffic and
recording it, the migration gate, abort requests and pruning.

Blue-green, canary and rollback all build on these; none of them may be
private to one strategy. Nothing here decides a strategy's order of steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from console.core.config import EnvironmentTarget, ServiceConfig
from console.core.errors import InvalidInput, OperationFailed
from console.core.ops import releases as rel
from console.core.ops.context import OpContext
from console.core.ops.gate import SchemaDeclaration, check_swap
from console.core.ops.instances import view_slots
from console.core.ops.traffic import plan_traffic
from console.core.store import Release, TrafficRecord
from engines.docker_host import DockerHost


def other_color(color: str | None) -> str:
    return "green" if color == "blue" else "blue"


def target(
    ctx: OpContext, service_name: str, environment: str
) -> tuple[ServiceConfig, EnvironmentTarget]:
    service = ctx.config.service(service_name)
    if environment not in service.environments:
        known = ", ".join(service.environments)
        raise InvalidInput(
            f"{service_name} has no environment {environment!r} (configured: {known})"
        )
    return service, service.environments[environment]


class RolloutSignals:
    """Promote and abort requests that other processes (a CLI, the console) record
    as events on a running deployment: the one reader of its event stream."""

    def __init__(self, ctx: OpContext, deployment_id: int) -> None:
        self.ctx = ctx
        self.deployment_id = deployment_id
        self._after = 0
        self.abort_requested_by: str | None = None
        self.promote_requested_by: str | None = None

    def poll(self) -> bool:
        """Read events recorded since the last look; True once an abort was asked for."""
        for event in self.ctx.store.events(self.deployment_id, after_id=self._after, limit=1000):
            self._after = event.id
            operator = str(event.data.get("operator", "someone"))
            if event.kind == "abort_requested" and self.abort_requested_by is None:
                self.abort_requested_by = operator
            elif event.kind == "promote_requested" and self.promote_requested_by is None:
                self.promote_requested_by = operator
        return self.abort_requested_by is not None

    def check(self) -> None:
        """Stop the rollout here if someone asked for an abort."""
        if self.poll():
            raise OperationFailed(f"aborted by {self.abort_requested_by}")


async def image_labels(ctx: OpContext, env: EnvironmentTarget, image_ref: str) -> dict[str, str]:
    host = ctx.fleet.host(env.hosts[0])
    await host.ensure_image(image_ref)
    return await host.image_labels(image_ref)


async def apply_traffic(
    ctx: OpContext,
    service: ServiceConfig,
    env: EnvironmentTarget,
    slots: dict[str, str],
    live_slot: str,
    canary_weight_pct: int = 0,
    preview_slot: str | None = None,
    deployment_id: int | None = None,
    canary_slot: str | None = None,
) -> None:
    plan = plan_traffic(
        service,
        env,
        ctx.config.hosts,
        slots,
        live_slot,
        canary_weight_pct,
        preview_slot,
        canary_slot,
    )
    result = await ctx.lbs.apply(plan)
    ctx.emit(
        "traffic",
        f"LB {env.load_balancer}: {plan.describe()} ({result.get('method', 'reload')}, {result.get('duration_s', 0):.2f}s)",
        deployment_id,
        weights=plan.weights(),
        live_slot=live_slot,
        canary_weight_pct=canary_weight_pct,
        preview_slot=preview_slot,
        **{k: v for k, v in result.items() if k in ("method", "duration_s", "verified_release")},
    )


def record_traffic(
    ctx: OpContext,
    service: str,
    environment: str,
    live_color: str,
    colors: dict[str, int | None],
    canary_release: int | None = None,
    canary_weight_pct: int = 0,
) -> None:
    ctx.store.set_traffic(
        TrafficRecord(
            service,
            environment,
            live_color,
            colors.get("blue"),
            colors.get("green"),
            canary_release,
            canary_weight_pct,
            ctx.clock.now(),
        )
    )


def check_release_gate(
    ctx: OpContext,
    service: ServiceConfig,
    env: EnvironmentTarget,
    to_release: Release,
    from_release: Release | None,
) -> None:
    schema = rel.current_schema(ctx.store, service, env.name)
    check_swap(
        to_release.name,
        rel.schema_of(to_release, service),
        schema,
        from_release.name if from_release else None,
        rel.schema_of(from_release, service),
    )


async def running_slots(
    ctx: OpContext, service: ServiceConfig, env: EnvironmentTarget
) -> dict[str, str]:
    views = await view_slots(ctx.fleet, service, env)
    return {slot: view.release for slot, view in views.items() if view.everywhere and view.release}


async def prune_releases(ctx: OpContext, service: ServiceConfig, env: EnvironmentTarget) -> None:
    """Keep the last N releases' images on hosts (warm colors are always kept); N = 0 never prunes."""
    if service.releases_to_keep == 0:
        return
    keep = {
        r.image_ref.rpartition("@")[2]
        for r in ctx.store.releases(service.name, env.name, limit=service.releases_to_keep)
    }
    traffic = ctx.store.traffic(service.name, env.name)
    if traffic:
        for release_id in (traffic.blue_release, traffic.green_release, traffic.canary_release):
            release = ctx.store.release(release_id) if release_id else None
            if release:
                keep.add(release.digest)

    async def prune(host: DockerHost) -> list[str]:
        return await host.prune_images(service.image, keep)

    await ctx.fleet.each(env.hosts, prune, timeout_s=120)


@dataclass(frozen=True)
class DeployPlan:
    """What a deploy (blue-green or canary) will do, decided once: ``--dry-run``
    prints it and the run records it in its first event and executes it."""

    service: str
    environment: str
    strategy: str
    reference: str  # what the operator asked for (tag or digest)
    tag: str | None
    image_ref: str  # the immutable digest reference it resolved to
    release_name: str
    from_color: str | None
    to_color: str
    from_release: Release | None
    steps: tuple[str, ...]

    def to_event(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "image": self.image_ref,
            "release": self.release_name,
            "from_color": self.from_color,
            "to_color": self.to_color,
            "from_release": self.from_release.name if self.from_release else None,
            "steps": list(self.steps),
        }


class SchemaOverrides(Protocol):
    """The part of a deploy request that can override an image's schema labels."""

    @property
    def schema_needs(self) -> int | None: ...

    @property
    def schema_supports(self) -> int | None: ...


def declaration(
    request: SchemaOverrides, labels: dict[str, str], service: ServiceConfig
) -> dict[str, str]:
    """Labels to record with the release: image labels, overridden by explicit flags."""
    result = {k: v for k, v in labels.items() if k.startswith(service.schema_label + ".")}
    if request.schema_needs is not None:
        result[f"{service.schema_label}.needs"] = str(request.schema_needs)
    if request.schema_supports is not None:
        result[f"{service.schema_label}.supports"] = str(request.schema_supports)
    SchemaDeclaration.from_labels(
        result, service.schema_label
    )  # validate now, before anything starts
    return result


async def record_deployment(
    ctx: OpContext,
    service: ServiceConfig,
    env: EnvironmentTarget,
    request: SchemaOverrides,
    plan: DeployPlan,
    extra_state: dict[str, Any],
    message: str,
    **fields: Any,
) -> tuple[int, Release, dict[str, Any]]:
    """Record the release and the deployment, with its plan, before anything runs:
    a process killed after this point leaves a deployment that ``status`` shows and
    ``rollback`` or ``--resume`` can finish."""
    labels = declaration(request, await image_labels(ctx, env, plan.image_ref), service)
    to_release = rel.record(
        ctx.store, service.name, env.name, plan.tag, plan.image_ref, ctx.clock.now(), labels
    )
    state: dict[str, Any] = {
        "strategy": plan.strategy,
        "image_ref": plan.image_ref,
        "to_release_id": to_release.id,
        "from_color": plan.from_color,
        "to_color": plan.to_color,
        **extra_state,
    }
    deployment_id = ctx.store.start_deployment(
        service.name,
        env.name,
        plan.strategy,
        "deploy",
        plan.from_release.id if plan.from_release else None,
        to_release.id,
        ctx.operator,
        ctx.clock.now(),
        state,
    )
    ctx.emit(
        "deploy_started",
        message.format(release=to_release.name),
        deployment_id,
        service=service.name,
        environment=env.name,
        release=to_release.name,
        image=plan.image_ref,
        **fields,
        plan=plan.to_event(),
    )
    return deployment_id, to_release, state
