"""A whole deploy target on the real rig: two SSH hosts, the registry, a real nginx
(and, for canaries, a real Prometheus scraping every slot of every host).

Each test gets its own nginx, state store and config (fresh ports), so tests
never see each other's traffic state; containers are removed after each test.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import subprocess
import sys
import tomllib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
import tomli_w

from console.core.clock import Clock
from console.core.config import Config, load_config
from console.core.fleet import Fleet
from console.core.ops.context import OpContext
from console.core.store import open_store
from console.demo.rig.daemons import RigUnavailable, free_port
from console.demo.rig.edge import NginxEdge, PrometheusServer
from console.demo.rig.rig import Rig
from tests.require import missing


@dataclass
class Stack:
    rig: Rig
    nginx: NginxEdge
    config_path: Path
    state_path: Path
    listen_port: int
    events: list[tuple[str, str, dict]]
    prometheus: PrometheusServer | None = None

    def config(self, **service_changes: Any) -> Config:
        config = load_config(self.config_path)
        if service_changes:
            service = dataclasses.replace(config.services["web"], **service_changes)
            config = dataclasses.replace(config, services={"web": service})
        return config

    def context(self, operator: str = "tester", **service_changes: Any) -> OpContext:
        config = self.config(**service_changes)

        def listener(event: str, message: str, fields: dict) -> None:
            self.events.append((event, message, fields))

        return OpContext(
            config, open_store(self.state_path), Clock(), operator, Fleet(config), [listener]
        )

    def cli_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "SHIPDECK_CONFIG": str(self.config_path),
            "SHIPDECK_OPERATOR": "tester",
        }

    def shipdeck(self, *argv: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
        """``shipdeck *argv`` run to completion against this stack's config."""
        return subprocess.run(
            [sys.executable, "-m", "console", *argv],
            env=self.cli_env(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    def start_shipdeck(self, *argv: str) -> subprocess.Popen[bytes]:
        """``shipdeck *argv`` started in the background, its output discarded (a test
        that kills it reads what it did from the state store)."""
        return subprocess.Popen(
            [sys.executable, "-m", "console", *argv],
            env=self.cli_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    @contextlib.contextmanager
    def editing_config(self) -> Iterator[dict[str, Any]]:
        """The config file as a TOML document, written back when the block ends."""
        document = tomllib.loads(self.config_path.read_text())
        yield document
        self.config_path.write_text(tomli_w.dumps(document))

    def update_service(self, **changes: Any) -> None:
        """Set keys of the ``web`` service in the config file."""
        with self.editing_config() as document:
            document["services"]["web"].update(changes)


def live_release(op: OpContext, environment: str = "production") -> str | None:
    """The release the LB sends ``web``'s live traffic to, as the store records it."""
    traffic = op.store.traffic("web", environment)
    return op.store.release(traffic.release_of(traffic.live_color)).name if traffic else None


def write_stack_config(
    path: Path,
    rig: Rig,
    nginx: NginxEdge,
    state: Path,
    listen: int,
    base_port: int,
    extra_document: dict | None = None,
    **extra: Any,
) -> None:
    service = {
        "image": rig.image_repository,
        "hosts": [h.name for h in rig.hosts],
        "container_port": 8000,
        "health_path": "/healthz",
        "health_timeout_s": 20,
        "strategy": "blue-green",
        "load_balancer": "edge",
        "listen": f"127.0.0.1:{listen}",
        "preview_listen": f"127.0.0.1:{free_port()}",
        "base_port": base_port,
        "post_deploy_verify": "1s",
        # the rig's hosts share one dockerd with every other test: never prune its images
        "releases_to_keep": 0,
        "env": {"ERROR_RATE": "0"},
        "smoke": [
            {"path": "/healthz", "status": 200},
            {"path": "/", "status": 200, "contains": "version="},
        ],
    }
    service.update(extra)
    document = {
        "state_path": str(state),
        "lock_lease_s": 2,
        "hosts": {
            h.name: {
                "address": f"ssh://root@{h.ssh_address}:{h.ssh_port}",
                "docker_socket": h.docker_socket,
                "known_hosts": str(h.known_hosts),
                "identity_file": str(h.identity_file),
                "publish_address": h.publish_address,
                "connect_timeout_s": 5,
            }
            for h in rig.hosts
        },
        "load_balancers": {
            "edge": {
                "kind": "nginx",
                "config_dir": str(nginx.config_dir),
                "main_config": str(nginx.main_config),
                "validate_command": nginx.validate_command,
                "reload_command": nginx.reload_command,
            }
        },
        "metrics": {"scrape_interval_s": 1},
        "services": {"web": service},
    }
    document.update(extra_document or {})
    path.write_text(tomli_w.dumps(document))


T = TypeVar("T")


class Stoppable(Protocol):
    def stop(self) -> None: ...


S = TypeVar("S", bound=Stoppable)


def started(start: Callable[[], T]) -> T:
    """What ``start()`` returns, or a skip (a failure under SHIPDECK_REQUIRE_RIG=1)
    naming the rig component it could not start."""
    try:
        return start()
    except RigUnavailable as exc:
        missing(exc.component, exc.why)
        raise  # missing() never returns


@contextlib.contextmanager
def running(start: Callable[[], S]) -> Iterator[S]:
    """A daemon started (or missing, as ``started`` says) and stopped when the block ends."""
    daemon = started(start)
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def nginx_edge(tmp_path: Path) -> Iterator[NginxEdge]:
    """A real nginx in the test's own directory."""
    with running(lambda: NginxEdge.start(tmp_path / "nginx")) as edge:
        yield edge


def new_stack(
    rig: Rig,
    nginx: NginxEdge,
    directory: Path,
    base_port: int,
    prometheus: PrometheusServer | None = None,
    extra_document: dict | None = None,
    **service: Any,
) -> Stack:
    """A stack whose config (``directory/shipdeck.toml``) is ``write_stack_config``'s."""
    stack = Stack(
        rig,
        nginx,
        directory / "shipdeck.toml",
        directory / "state.db",
        free_port(),
        [],
        prometheus,
    )
    write_stack_config(
        stack.config_path,
        rig,
        nginx,
        stack.state_path,
        stack.listen_port,
        base_port,
        extra_document,
        **service,
    )
    return stack


def random_base_port() -> int:
    """A multiple of 10 somewhere between 20000 and 40000: each test's slot ports differ."""
    return random.randrange(20000, 40000, 10)


@pytest.fixture
async def stack(rig: Rig, rig_hosts, nginx_edge: NginxEdge, tmp_path: Path) -> AsyncIterator[Stack]:
    """A blue-green ``web`` service on the rig's hosts, behind the test's own nginx."""
    yield new_stack(rig, nginx_edge, tmp_path, random_base_port())


def write_targets(path: Path, rig: Rig, base_port: int, job: str = "web") -> None:
    """Every slot port of every host; series are told apart by their version label."""
    targets = [f"{h.publish_address}:{base_port + offset}" for h in rig.hosts for offset in (0, 1)]
    path.write_text(json.dumps([{"targets": targets, "labels": {"job": job}}]))


CANARY_TEMPLATE = {
    "interval_s": 1,
    "alpha_fail": 0.05,
    "alpha_pass": 0.1,
    "error_ratio_pass": 3.0,
    "latency_quantiles": [0.5, 0.99],
    "latency_ratio_pass": 2.0,
    "min_soak_s": 5,
    "min_canary_requests": 150,
    "min_reference_requests": 100,
    "traffic_min_expected_requests": 30,
    "on_inconclusive": "extend",
}


CANARY_STEPS = [
    {"weight": 5},
    {"analysis": "test", "duration": "60s"},
    {"weight": 25},
    {"analysis": "test", "duration": "15s"},
    {"weight": 50},
    {"analysis": "test", "duration": "10s"},
    {"weight": 100},
]


@pytest.fixture
async def canary_stack(
    rig: Rig, rig_hosts, nginx_edge: NginxEdge, tmp_path: Path
) -> AsyncIterator[Stack]:
    """A stack whose service deploys by canary, judged from a real Prometheus (1 s scrapes)."""
    base_port = random_base_port()
    targets = tmp_path / "targets.json"
    write_targets(targets, rig, base_port)
    with running(
        lambda: PrometheusServer.start(tmp_path / "prometheus", free_port(), targets)
    ) as prometheus:
        yield new_stack(
            rig,
            nginx_edge,
            tmp_path,
            base_port,
            prometheus,
            extra_document={
                "analysis": {"test": CANARY_TEMPLATE},
                "metrics": {
                    "prometheus_url": prometheus.url,
                    "scrape_interval_s": 1,
                    "query_timeout_s": 2,
                },
            },
            strategy="canary",
            smoke=[{"path": "/healthz", "status": 200}],
            analysis="test",
            canary_steps=CANARY_STEPS,
            env={},
        )
