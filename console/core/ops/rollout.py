"""The steps every rollout shares: where releases run, moving traffic and
recording it, the migration gate, abort requests and pruning.

Blue-green, canary and rollback all build on these; none of them may be
private to one strategy. Nothing here decides a strategy's order of steps.
"""

from __future__ import annotations

from console.core.config import EnvironmentTarget, ServiceConfig
from console.core.errors import InvalidInput, OperationFailed
from console.core.ops import releases as rel
from console.core.ops.context import OpContext
from console.core.ops.gate import check_swap
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


class AbortWatch:
    """Notices an ``abort_requested`` event recorded by another process (rollback/abort)."""

    def __init__(self, ctx: OpContext, deployment_id: int) -> None:
        self.ctx = ctx
        self.deployment_id = deployment_id
        self._after = 0
        self.requested_by: str | None = None

    def poll(self) -> bool:
        if self.requested_by is not None:
            return True
        for event in self.ctx.store.events(self.deployment_id, after_id=self._after, limit=1000):
            self._after = event.id
            if event.kind == "abort_requested":
                self.requested_by = str(event.data.get("operator", "someone"))
        return self.requested_by is not None

    def check(self) -> None:
        if self.poll():
            raise OperationFailed(f"aborted by {self.requested_by}")


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
    return {slot: view.release for slot, view in views.items() if view.everywhere and view.release}  # type: ignore[misc]


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
