"""In-memory stand-ins for the fleet and the LB, so operation flows can be unit-tested.

They imitate the engines' observable behaviour (containers per slot, health,
metrics pages, LB weights); the real engines are proven by integration tests.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from console.core.clock import Clock
from console.core.config import parse_config
from console.core.errors import OperationFailed
from console.core.fleet import Fleet
from console.core.ops.context import OpContext
from console.core.store import open_store
from engines.docker_host import ContainerInfo, HealthyAfter
from engines.errors import EngineOperationFailed
from engines.http import HttpResponse

DIGESTS = {
    tag: f"127.0.0.1:5000/demo@sha256:{str(i) * 64}"
    for i, tag in enumerate(("v1", "v2", "v3", "v4"), 1)
}

CONFIG_TEXT = textwrap.dedent(
    """\
    lock_lease_s = 2
    [hosts.h1]
    address = "local"
    publish_address = "127.0.0.11"
    [hosts.h2]
    address = "local"
    publish_address = "127.0.0.12"
    [load_balancers.edge]
    kind = "nginx"
    [services.web]
    image = "127.0.0.1:5000/demo"
    hosts = ["h1", "h2"]
    load_balancer = "edge"
    listen = "127.0.0.1:8080"
    preview_listen = "127.0.0.1:8081"
    base_port = 18080
    post_deploy_verify = "0s"
    [[services.web.smoke]]
    path = "/"
    status = 200
    """
)


@dataclass
class FakeHost:
    name: str
    containers: dict[str, ContainerInfo] = field(default_factory=dict)
    unhealthy_releases: set[str] = field(default_factory=set)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)

    async def resolve_digest(self, reference: str) -> str:
        tag = reference.rpartition(":")[2]
        if "@" in reference:
            return reference
        if tag not in DIGESTS:
            raise EngineOperationFailed(self.name, f"manifest for {reference} not found")
        return DIGESTS[tag]

    async def ensure_image(self, image: str, progress: Any = None) -> bool:
        return False

    async def image_labels(self, image: str) -> dict[str, str]:
        return self.labels.get(image, {})

    async def list_containers(self, service: str | None = None) -> list[ContainerInfo]:
        return [c for c in self.containers.values() if service is None or c.service == service]

    async def start_container(self, spec) -> ContainerInfo:  # type: ignore[no-untyped-def]
        name = f"shipdeck-{self.name}-{spec.service}-{spec.slot}"
        info = ContainerInfo(
            name,
            name,
            self.name,
            spec.service,
            spec.release,
            spec.color,
            spec.track,
            "running",
            "healthy",
            spec.host_port,
            spec.image,
            datetime.now(UTC),
            {},
        )
        self.containers[name] = info
        return info

    async def wait_healthy(self, info, check=None):  # type: ignore[no-untyped-def]
        if info.release in self.unhealthy_releases:
            raise EngineOperationFailed(
                self.name, f"container {info.name} not healthy after 3 attempts"
            )
        return HealthyAfter(1, 0.01)

    async def remove_container(self, info, force: bool = False) -> None:  # type: ignore[no-untyped-def]
        self.containers.pop(info.name, None)

    async def prune_images(self, repository: str, keep) -> list[str]:  # type: ignore[no-untyped-def]
        return []

    async def close(self) -> None:
        return None

    def release_on_port(self, port: int) -> str | None:
        for c in self.containers.values():
            if c.host_port == port and c.state == "running":
                return c.release
        return None


class FakeFleet(Fleet):
    def __init__(self, config) -> None:  # type: ignore[no-untyped-def]
        super().__init__(config)
        self.fake_hosts = {name: FakeHost(name) for name in config.hosts}

    def host(self, name: str):  # type: ignore[no-untyped-def]
        return self.fake_hosts[name]

    async def http_get(
        self, host_name: str, port: int, path: str, timeout_s: float = 5.0
    ) -> HttpResponse:
        release = self.fake_hosts[host_name].release_on_port(port)
        if release is None:
            raise OperationFailed(f"{host_name}: nothing listens on {port}")
        if path == "/metrics":
            return HttpResponse(200, {}, b'http_requests_total{code="200"} 10\n')
        return HttpResponse(200, {}, f"version={release}\n".encode())

    async def close(self) -> None:
        return None


class FakeLbs:
    def __init__(self) -> None:
        self.applied: list[Any] = []
        self.fail_next = False

    async def apply(self, plan) -> dict:  # type: ignore[no-untyped-def]
        if self.fail_next:
            self.fail_next = False
            raise OperationFailed("nginx: config rejected")
        self.applied.append(plan)
        return {"method": "reload", "duration_s": 0.01, "verified_release": None, "changed": True}

    async def diff(self, plan) -> str:  # type: ignore[no-untyped-def]
        return "--- a\n+++ b\n"

    def serving(self) -> set[str]:
        return self.applied[-1].serving_releases() if self.applied else set()


def make_context(tmp_path, operator: str = "tester") -> OpContext:  # type: ignore[no-untyped-def]
    config = parse_config(CONFIG_TEXT)
    fleet = FakeFleet(config)
    events: list = []
    op = OpContext(
        config,
        open_store(tmp_path / "state.db"),
        Clock(),
        operator,
        fleet,
        [lambda e, m, f: events.append((e, m, f))],
    )
    op.lb_factory = FakeLbs()
    op.events = events  # type: ignore[attr-defined]
    return op
