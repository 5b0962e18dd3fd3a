"""Container health probes go through engines.http: a container port that does
not answer yet is retried; an SSH connection that failed stops the wait at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engines import docker_host
from engines.docker_host import ContainerInfo, DockerHost, HealthCheck, HostSpec
from engines.errors import TargetUnreachable
from engines.http import EndpointUnreachable, HttpResponse


def container() -> ContainerInfo:
    return ContainerInfo(
        id="c" * 64,
        name="shipdeck-web-1-demo-blue",
        host="web-1",
        service="demo",
        release="v1",
        color="blue",
        track="",
        state="running",
        health="none",
        host_port=18000,
        image="registry.local/demo@sha256:" + "1" * 64,
        created=datetime.now(UTC),
        labels={},
    )


def probing(monkeypatch: pytest.MonkeyPatch, answers: list[Exception | int]) -> list[str]:
    """Make the host's probes answer ``answers`` in turn; returns the paths probed."""
    probed: list[str] = []

    async def fake_get(address: str, port: int, path: str, **kwargs: Any) -> HttpResponse:
        probed.append(path)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return HttpResponse(answer)

    monkeypatch.setattr(docker_host, "http_get", fake_get)
    return probed


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> DockerHost:
    host = DockerHost(HostSpec(name="web-1"))

    async def still_running(container_id: str, name: str) -> dict[str, Any]:
        return {}

    monkeypatch.setattr(host, "_fail_if_exited", still_running)
    return host


async def test_a_port_that_does_not_answer_yet_is_retried_until_healthy(
    host: DockerHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = EndpointUnreachable("web-1", "GET /healthz failed: connection refused")
    probed = probing(monkeypatch, [refused, refused, 200])

    healthy = await host.wait_healthy(container(), HealthCheck(interval_s=0.01))

    assert healthy.attempts == 3 and probed == ["/healthz"] * 3


async def test_a_lost_ssh_connection_stops_the_health_wait_at_once(
    host: DockerHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    probed = probing(monkeypatch, [TargetUnreachable("web-1", "SSH connection lost"), 200])

    with pytest.raises(TargetUnreachable, match="SSH connection lost"):
        await host.wait_healthy(container(), HealthCheck(interval_s=0.01))
    assert len(probed) == 1
