"""Starting, checking and stopping a release's instances on every host of a service.

These helpers are shared by blue-green deploys, canaries and rollbacks. They
fan out over hosts and fail with one error naming every host that failed;
they never touch a slot other than the one they were asked about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from console.core.config import EnvironmentTarget, ServiceConfig
from console.core.errors import OperationFailed
from console.core.fleet import Fleet, as_shipdeck_error
from engines.docker_host import ContainerInfo, ContainerSpec, DockerHost, HealthCheck


@dataclass(frozen=True)
class SlotView:
    """What runs in one slot across the hosts of a service environment."""

    slot: str
    releases: dict[str, str | None]  # host → release running there (None: nothing running)

    @property
    def release(self) -> str | None:
        """The release if every host runs the same one, else None."""
        values = set(self.releases.values())
        return values.pop() if len(values) == 1 else None

    @property
    def everywhere(self) -> bool:
        return self.release is not None


def instance_service(service: ServiceConfig, env: EnvironmentTarget) -> str:
    """The service name containers carry: environments that share hosts must never
    replace each other's containers (``web`` in production, ``web-staging`` in staging)."""
    return service.name if env.name == "production" else f"{service.name}-{env.name}"


def slot_parts(slot: str) -> tuple[str, str]:
    """slot → (color, track) as container labels carry them."""
    return ("", "canary") if slot == "canary" else (slot, "")


def container_slot(container: ContainerInfo) -> str:
    return "canary" if container.track == "canary" and not container.color else container.color


async def view_slots(
    fleet: Fleet, service: ServiceConfig, env: EnvironmentTarget
) -> dict[str, SlotView]:
    """Which release runs (state running) in each slot on each host; raises if a host is unreachable."""

    async def listing(host: DockerHost) -> list[ContainerInfo]:
        return await host.list_containers(instance_service(service, env))

    per_host = await fleet.all_or_raise(env.hosts, listing, "listing containers", timeout_s=60)
    views: dict[str, dict[str, str | None]] = {
        s: dict.fromkeys(env.hosts) for s in ("blue", "green", "canary")
    }
    for host, containers in per_host.items():
        for container in containers:
            slot = container_slot(container)
            if slot in views and container.running and container.host_port == env.host_port(slot):
                views[slot][host] = container.release
    return {slot: SlotView(slot, releases) for slot, releases in views.items()}


async def start_slot(
    fleet: Fleet,
    service: ServiceConfig,
    env: EnvironmentTarget,
    slot: str,
    release_name: str,
    image_ref: str,
    *,
    extra_env: dict[str, str] | None = None,
    on_progress: Any = None,
    track: str = "",
) -> dict[str, float]:
    """Start ``release`` in ``slot`` on every host and wait until healthy.

    An existing container in that slot is replaced (it is the old standby or
    an earlier failed attempt), unless it already runs this release healthily.
    Returns seconds-to-healthy per host.
    """
    color, default_track = slot_parts(slot)
    track = track or default_track
    check = HealthCheck(path=service.health_path, timeout_s=service.health_timeout_s)

    async def start(host: DockerHost) -> float:
        await host.ensure_image(image_ref, progress=on_progress)
        existing = [
            c
            for c in await host.list_containers(instance_service(service, env))
            if container_slot(c) == slot
        ]
        for container in existing:
            if (
                container.running
                and container.release == release_name
                and container.image == image_ref
            ):
                healthy = await host.wait_healthy(container, check)
                return healthy.elapsed_s
            await host.remove_container(container, force=True)
        spec = ContainerSpec(
            service=instance_service(service, env),
            release=release_name,
            image=image_ref,
            container_port=service.container_port,
            host_port=env.host_port(slot),
            color=color,
            track=track,
            env={**service.env, **(extra_env or {})},
        )
        container = await host.start_container(spec)
        healthy = await host.wait_healthy(container, check)
        return healthy.elapsed_s

    return await fleet.all_or_raise(
        env.hosts,
        start,
        f"starting {release_name} ({slot})",
        timeout_s=service.health_timeout_s + 600,
    )


async def stop_slot(
    fleet: Fleet,
    service: ServiceConfig,
    env: EnvironmentTarget,
    slot: str,
    release: str | None = None,
) -> list[str]:
    """Stop and remove the slot's containers (only of ``release`` when given); returns problems."""

    async def stop(host: DockerHost) -> int:
        removed = 0
        for container in await host.list_containers(instance_service(service, env)):
            if container_slot(container) != slot:
                continue
            if release is not None and container.release != release:
                continue
            await host.remove_container(container, force=True)
            removed += 1
        return removed

    result = await fleet.each(env.hosts, stop, timeout_s=120)
    return [str(as_shipdeck_error(o.error)) for o in result.failed]  # type: ignore[arg-type]


async def check_slot_healthy(
    fleet: Fleet, service: ServiceConfig, env: EnvironmentTarget, slot: str
) -> None:
    """One health probe of the slot on every host; raises naming the hosts that failed."""

    async def probe(host: DockerHost) -> int:
        response = await fleet.http_get(
            host.name, env.host_port(slot), service.health_path, timeout_s=3.0
        )
        if not 200 <= response.status < 300:
            raise OperationFailed(
                f"{host.name}: {slot} health GET {service.health_path} answered {response.status}"
            )
        return response.status

    await fleet.all_or_raise(env.hosts, probe, f"health of {slot}", timeout_s=10)
