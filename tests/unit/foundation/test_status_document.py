"""``shipdeck status`` and ``shipdeck hosts`` print exactly the documents scripts parse today.

The expected texts below were captured from the code *before* the status view
became typed (dataclasses and the ``Outcome`` enum, issue 14): the pin proves the
typing changed no key, no value and no order. A fixed store and a fake host probe
exercise every branch — live/standby/canary, an interrupted rollout, a stale
lock, a rolled-back deploy, an old drill, a never-drilled service, a mixed fleet
and an unreachable host.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from console.cli_commands import hosts as hosts_command
from console.cli_commands import status as status_command
from console.cli_commands.context import CliContext
from console.cli_commands.output import Output
from console.core import fleet
from console.core.clock import Clock
from console.core.status import ContainerView, HostProbeView
from console.core.store import TrafficRecord, open_store
from engines.docker_host import ContainerInfo
from engines.errors import TargetUnreachable
from engines.fanout import FanOutResult, ItemOutcome

NOW = datetime(2026, 11, 30, 3, 0, 0, tzinfo=UTC)

CONFIG = textwrap.dedent(
    """\
    lock_lease_s = 30

    [hosts.web-1]
    address = "local"

    [hosts.web-2]
    address = "local"
    publish_address = "127.0.0.2"

    [hosts.api-1]
    address = "local"

    [load_balancers.edge]
    kind = "nginx"

    [services.web]
    image = "registry/web"
    load_balancer = "edge"
    listen = "127.0.0.1:8080"
    preview_listen = "127.0.0.1:8081"
    base_port = 18080
    drill_max_age_days = 7

    [services.web.environments.staging]
    hosts = ["web-1"]
    listen = "127.0.0.1:9080"
    preview_listen = "127.0.0.1:9081"
    base_port = 19080

    [services.web.environments.production]
    hosts = ["web-1", "web-2"]

    [services.api]
    image = "registry/api"
    hosts = ["api-1"]
    load_balancer = "edge"
    listen = "127.0.0.1:7080"
    preview_listen = "127.0.0.1:7081"
    base_port = 17080
    """
)


def _container(
    service: str, release: str, color: str, track: str = "", state: str = "running"
) -> ContainerView:
    return ContainerView(
        name=f"{service}-{color}{'-' + track if track else ''}-1",
        service=service,
        release=release,
        color=color,
        track=track,
        state=state,
        health="healthy",
        host_port=18081,
        image=f"registry/{service}@sha256:{release}",
        created=datetime(2026, 11, 30, 2, 0, 0, tzinfo=UTC),
    )


PROBE_ANSWER: dict[str, HostProbeView] = {
    "web-1": HostProbeView(
        reachable=True,
        docker_version="27.3.1",
        containers=(
            _container("web", "v42", "blue"),
            _container("web", "v41", "green"),
            _container("web", "v43", "green", "canary"),
            _container("web-staging", "v43", "green"),
            _container("web-staging", "v40", "blue", state="exited"),
        ),
    ),
    "web-2": HostProbeView(
        reachable=True, docker_version="27.3.1", containers=(_container("web", "v41", "blue"),)
    ),
    "api-1": HostProbeView(
        reachable=False,
        error="api-1: ssh: connection timed out after 10s",
        error_code="unreachable",
    ),
}


async def _fake_probe(names: list[str]) -> dict[str, HostProbeView]:
    return {name: PROBE_ANSWER[name] for name in names}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A config and a store holding one of everything ``status`` shows."""
    config_path = tmp_path / "shipdeck.toml"
    config_path.write_text(CONFIG)
    state_path = tmp_path / "state.db"
    store = open_store(state_path)
    at = NOW - timedelta(hours=3)
    v40 = store.record_release("web", "production", "registry/web@sha256:" + "0" * 64, "v40", at)
    v41 = store.record_release("web", "production", "registry/web@sha256:" + "1" * 64, "v41", at)
    v42 = store.record_release("web", "production", "registry/web@sha256:" + "2" * 64, "v42", at)
    v43 = store.record_release("web", "production", "registry/web@sha256:" + "3" * 64, None, at)
    s43 = store.record_release("web", "staging", "registry/web@sha256:" + "3" * 64, "v43", at)
    store.set_traffic(TrafficRecord("web", "production", "blue", v42.id, v41.id, v43.id, 25, NOW))
    store.set_traffic(TrafficRecord("web", "staging", "green", None, s43.id, None, 0, NOW))
    done = store.start_deployment(
        "web", "production", "blue-green", "deploy", v40.id, v42.id, "bob@ops", at
    )
    store.finish_deployment(done, "succeeded", None, at + timedelta(minutes=2))
    running = store.start_deployment(
        "web",
        "production",
        "canary",
        "deploy",
        v42.id,
        v43.id,
        "ann@laptop",
        NOW - timedelta(minutes=20),
        state={"weight_pct": 5, "step_index": 0},
    )
    store.update_deployment(
        running,
        NOW - timedelta(minutes=15),
        step="analysis default",
        state={
            "weight_pct": 25,
            "step_index": 3,
            "step_ends_at": "2026-11-30T03:04:10Z",
            "verdicts": [{"name": "error_rate", "verdict": "pass", "explanation": "ok"}],
        },
    )
    back = store.start_deployment(
        "web", "staging", "blue-green", "deploy", None, s43.id, "ci@runner", at
    )
    store.finish_deployment(back, "rolled_back", "error_rate 3.1x baseline\nsecond line", at)
    store.try_lock("web", "ann@laptop", "canary v43 to production", 30, NOW - timedelta(minutes=20))
    store.record_drill("web", "production", "succeeded", 4.25, 6.5, "ok", NOW - timedelta(days=1))
    store.record_drill("web", "staging", "succeeded", 3.0, 5.0, "ok", NOW - timedelta(days=10))
    store.record_drill("web", "staging", "failed", None, None, "broke", NOW - timedelta(days=2))
    store.close()
    monkeypatch.setattr(fleet, "probe_hosts_factory", lambda config: _fake_probe)
    monkeypatch.setattr(hosts_command, "probe_hosts_factory", lambda config: _fake_probe)
    return config_path, state_path


def _run(handler: Any, json_mode: bool, **args: Any) -> str:
    out = io.StringIO()
    namespace = argparse.Namespace(json=json_mode, **args)
    ctx = CliContext(namespace, Output(json_mode, out, io.StringIO()), Clock(frozen_at=NOW))
    asyncio.run(handler(namespace, ctx))
    return out.getvalue()


PINNED = Path(__file__).parent / "pinned"


def _pinned(name: str) -> str:
    return (PINNED / name).read_text()


def _status(world: tuple[Path, Path], json_mode: bool, service: str | None = None) -> str:
    config_path, state_path = world
    return _run(
        status_command.handle_status,
        json_mode,
        config=str(config_path),
        state=str(state_path),
        service=service,
        no_hosts=False,
    )


def _hosts(world: tuple[Path, Path], json_mode: bool) -> str:
    config_path, state_path = world
    return _run(
        hosts_command.handle_hosts,
        json_mode,
        config=str(config_path),
        state=str(state_path),
        names=[],
    )


def test_status_json_document_is_unchanged(world: tuple[Path, Path]) -> None:
    assert _status(world, True) == _pinned("status.json")


def test_status_json_of_one_service_is_unchanged(world: tuple[Path, Path]) -> None:
    assert _status(world, True, "web") == _pinned("status-web.json")


def test_status_text_is_unchanged(world: tuple[Path, Path]) -> None:
    assert _status(world, False) == _pinned("status.txt")


def test_hosts_json_document_is_unchanged(world: tuple[Path, Path]) -> None:
    assert _hosts(world, True) == _pinned("hosts.json")


def test_hosts_text_is_unchanged(world: tuple[Path, Path]) -> None:
    assert _hosts(world, False) == _pinned("hosts.txt")


class _FakeDockerHost:
    """Answers ``ping`` and ``list_containers`` like a host running one container."""

    async def ping(self) -> str:
        return "27.3.1"

    async def list_containers(self) -> list[ContainerInfo]:
        return [
            ContainerInfo(
                id="abc",
                name="web-blue-1",
                host="web-1",
                service="web",
                release="v42",
                color="blue",
                track="",
                state="running",
                health="healthy",
                host_port=18080,
                image="registry/web@sha256:v42",
                created=datetime(2026, 11, 30, 2, 0, 0, tzinfo=UTC),
                labels={},
            )
        ]


class _FakeFleet:
    """``Fleet.each`` over one reachable host and one whose SSH timed out."""

    config = SimpleNamespace(
        hosts={
            "web-1": SimpleNamespace(connect_timeout_s=5.0),
            "web-2": SimpleNamespace(connect_timeout_s=5.0),
        }
    )

    async def each(self, names: list[str], op: Any, timeout_s: float | None = None) -> Any:
        value = await op(_FakeDockerHost())
        return FanOutResult(
            (
                ItemOutcome(None, "web-1", value, None, 0.1),
                ItemOutcome(None, "web-2", None, TargetUnreachable("web-2", "ssh: timed out"), 5.0),
            ),
            5.0,
        )


def test_probe_hosts_documents_keep_the_keys_hosts_json_always_had() -> None:
    view = asyncio.run(fleet.probe_hosts(_FakeFleet(), ["web-1", "web-2"]))  # type: ignore[arg-type]
    assert view["web-1"].to_dict() == {
        "reachable": True,
        "error": None,
        "docker_version": "27.3.1",
        "containers": [
            {
                "name": "web-blue-1",
                "service": "web",
                "release": "v42",
                "color": "blue",
                "track": "",
                "state": "running",
                "health": "healthy",
                "host_port": 18080,
                "image": "registry/web@sha256:v42",
                "created": "2026-11-30T02:00:00+00:00",
            }
        ],
    }
    assert list(view["web-1"].to_dict()) == ["reachable", "error", "docker_version", "containers"]
    unreachable = view["web-2"].to_dict()
    assert list(unreachable) == ["reachable", "error", "error_code", "docker_version", "containers"]
    assert unreachable["reachable"] is False and unreachable["error_code"] == "unreachable"
    assert unreachable["docker_version"] is None and unreachable["containers"] == []
