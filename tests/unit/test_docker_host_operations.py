"""DockerHost behaviour against a fake Docker SDK client and a local HTTP server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import docker.errors
import pytest
import requests.exceptions

from engines.docker_host import ContainerInfo, DockerHost, HealthCheck, HostSpec
from engines.errors import EngineOperationFailed, InvalidTargetInput, TargetUnreachable

REPOSITORY = "127.0.0.1:5000/shipdeck/demo"


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


class FakeApi:
    """The slice of ``docker.APIClient`` DockerHost uses, with canned answers."""

    def __init__(self) -> None:
        self.calling_threads: set[int] = set()
        self.container_state: dict[str, Any] = {"Status": "running", "ExitCode": 0}
        self.restart_count = 0
        self.summaries: list[dict[str, Any]] = []
        self.images_by_id: dict[str, dict[str, Any]] = {}
        self.used_image_ids: set[str] = set()
        self.removed: list[str] = []
        self.fail_with: Exception | None = None
        self.log_text = b""

    def _enter(self) -> None:
        self.calling_threads.add(threading.get_ident())
        if self.fail_with is not None:
            raise self.fail_with

    def version(self) -> dict[str, str]:
        self._enter()
        return {"Version": "fake-20.10"}

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        self._enter()
        return {"State": self.container_state, "RestartCount": self.restart_count}

    def stop(self, container_id: str, timeout: int) -> None:
        self._enter()

    def logs(self, container_id: str, tail: int) -> bytes:
        self._enter()
        return self.log_text

    def containers(self, all: bool = False, filters: Any = None) -> list[dict[str, Any]]:
        self._enter()
        if filters is None:
            return [{"ImageID": image_id} for image_id in self.used_image_ids]
        return self.summaries

    def images(self, name: str) -> list[dict[str, Any]]:
        self._enter()
        return [{"Id": image_id} for image_id in self.images_by_id]

    def inspect_image(self, image_id: str) -> dict[str, Any]:
        self._enter()
        return self.images_by_id[image_id]

    def remove_image(self, reference: str) -> None:
        self._enter()
        self.removed.append(reference)


class FakeClient:
    def __init__(self) -> None:
        self.api = FakeApi()

    def close(self) -> None:
        pass


@pytest.fixture
async def fake() -> AsyncIterator[tuple[DockerHost, FakeApi]]:
    host = DockerHost(HostSpec(name="web-1", publish_address="127.0.0.1"))
    client = FakeClient()

    async def fake_client() -> FakeClient:
        return client

    host._docker_client = fake_client  # type: ignore[method-assign]
    yield host, client.api
    await host.close()


def container(port: int) -> ContainerInfo:
    from datetime import UTC, datetime

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
        host_port=port,
        image=f"{REPOSITORY}@{digest(1)}",
        created=datetime.now(UTC),
        labels={},
    )


@pytest.fixture
async def http_server() -> AsyncIterator[Callable[[list[int]], int]]:
    """Serve the given status codes in turn (the last one repeats); returns the port."""
    servers: list[asyncio.Server] = []

    async def start(statuses: list[int]) -> int:
        remaining = list(statuses)

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            status = remaining.pop(0) if len(remaining) > 1 else remaining[0]
            writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        servers.append(server)
        return server.sockets[0].getsockname()[1]

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()


async def test_sdk_calls_never_run_on_the_event_loop_thread(
    fake: tuple[DockerHost, FakeApi],
) -> None:
    host, api = fake

    assert await host.ping() == "fake-20.10"

    assert api.calling_threads and threading.get_ident() not in api.calling_threads


async def test_a_dropped_docker_connection_is_unreachable_naming_host_and_operation(
    fake: tuple[DockerHost, FakeApi],
) -> None:
    host, api = fake
    api.fail_with = requests.exceptions.ConnectionError("Connection aborted.")

    with pytest.raises(TargetUnreachable) as unreachable:
        await host.ping()

    assert unreachable.value.target == "web-1"
    assert unreachable.value.cause == "dockerd did not answer during ping: Connection aborted."


async def test_an_error_answered_by_dockerd_is_an_operation_failure(
    fake: tuple[DockerHost, FakeApi],
) -> None:
    host, api = fake
    api.fail_with = docker.errors.APIError("500", explanation="disk full")

    with pytest.raises(EngineOperationFailed, match="web-1: ping refused by dockerd: disk full"):
        await host.ping()


async def test_a_2xx_answer_needs_no_question_to_docker(
    fake: tuple[DockerHost, FakeApi], http_server: Callable[..., Any]
) -> None:
    host, api = fake
    api.fail_with = requests.exceptions.ConnectionError("must not be asked")
    port = await http_server([200])

    assert (await host.wait_healthy(container(port))).attempts == 1


async def test_health_passes_at_the_first_2xx(
    fake: tuple[DockerHost, FakeApi], http_server: Callable[..., Any]
) -> None:
    host, _ = fake
    port = await http_server([503, 503, 204])

    healthy = await host.wait_healthy(container(port), HealthCheck(interval_s=0.01))

    assert healthy.attempts == 3


async def test_health_timeout_reports_container_url_and_last_status(
    fake: tuple[DockerHost, FakeApi], http_server: Callable[..., Any]
) -> None:
    host, _ = fake
    port = await http_server([500])

    with pytest.raises(EngineOperationFailed) as failed:
        await host.wait_healthy(container(port), HealthCheck(timeout_s=0.3, interval_s=0.05))

    assert failed.value.target == "web-1"
    assert "container shipdeck-web-1-demo-blue not healthy after" in failed.value.cause
    assert f"GET http://127.0.0.1:{port}/healthz" in failed.value.cause
    assert failed.value.cause.endswith("last: HTTP 500")


async def test_health_gives_up_after_max_attempts(
    fake: tuple[DockerHost, FakeApi], http_server: Callable[..., Any]
) -> None:
    host, _ = fake
    port = await http_server([503])

    with pytest.raises(EngineOperationFailed, match="after 3 attempts"):
        await host.wait_healthy(container(port), HealthCheck(interval_s=0.01, max_attempts=3))


async def test_health_of_a_closed_port_reports_the_connection_error(
    fake: tuple[DockerHost, FakeApi], http_server: Callable[..., Any]
) -> None:
    host, _ = fake
    port = await http_server([200])
    closed_port = port + 1 if port < 65535 else port - 1

    with pytest.raises(EngineOperationFailed, match="last: .*(refused|Connect call failed)"):
        await host.wait_healthy(container(closed_port), HealthCheck(timeout_s=0.3, interval_s=0.05))


async def test_a_container_that_exited_fails_health_with_its_exit_code_and_logs(
    fake: tuple[DockerHost, FakeApi], http_server: Callable[..., Any]
) -> None:
    host, api = fake
    api.container_state = {"Status": "exited", "ExitCode": 1}
    api.log_text = b"Traceback (most recent call last):\nValueError: bad port\n"
    port = await http_server([503])

    with pytest.raises(EngineOperationFailed) as failed:
        await host.wait_healthy(container(port))

    assert "exited at start with code 1" in failed.value.cause
    assert failed.value.cause.endswith(
        "last log lines: Traceback (most recent call last): | ValueError: bad port"
    )


async def test_a_crash_looping_container_fails_health_even_while_running(
    fake: tuple[DockerHost, FakeApi], http_server: Callable[..., Any]
) -> None:
    host, api = fake
    api.restart_count = 2
    port = await http_server([503])

    with pytest.raises(EngineOperationFailed, match=r"\(restarts: 2\)"):
        await host.wait_healthy(container(port))


async def test_a_health_path_that_could_smuggle_a_header_is_refused(
    fake: tuple[DockerHost, FakeApi],
) -> None:
    host, _ = fake

    with pytest.raises(InvalidTargetInput, match="health path"):
        await host.wait_healthy(container(8000), HealthCheck(path="/x HTTP/1.1\r\nHost: evil"))


async def test_listing_reads_state_health_port_and_labels(
    fake: tuple[DockerHost, FakeApi],
) -> None:
    host, api = fake
    api.summaries = [
        {
            "Id": "f" * 64,
            "Names": ["/shipdeck-web-1-demo-green"],
            "Image": "sha256:x",
            "State": "running",
            "Status": "Up 5 seconds (healthy)",
            "Created": 1_700_000_000,
            "Ports": [{"IP": "127.0.0.1", "PrivatePort": 8000, "PublicPort": 32771}],
            "Labels": {
                "shipdeck.host": "web-1",
                "shipdeck.service": "demo",
                "shipdeck.release": "v2",
                "shipdeck.color": "green",
                "shipdeck.track": "",
                "shipdeck.image": f"{REPOSITORY}@{digest(2)}",
                "shipdeck.container_port": "8000",
            },
        }
    ]

    (info,) = await host.list_containers(service="demo")

    assert (info.name, info.release, info.color, info.state, info.health, info.host_port) == (
        "shipdeck-web-1-demo-green",
        "v2",
        "green",
        "running",
        "healthy",
        32771,
    )
    assert info.image == f"{REPOSITORY}@{digest(2)}"


def image(image_id: str, digest_number: int, created: str) -> dict[str, Any]:
    return {
        "Id": image_id,
        "RepoDigests": [f"{REPOSITORY}@{digest(digest_number)}"],
        "RepoTags": [f"{REPOSITORY}:v{digest_number}"],
        "Created": created,
    }


async def test_prune_removes_only_older_unused_images_not_kept(
    fake: tuple[DockerHost, FakeApi],
) -> None:
    host, api = fake
    api.images_by_id = {
        "i1": image("i1", 1, "2026-01-01T00:00:01.100000001Z"),
        "i2": image("i2", 2, "2026-01-01T00:00:01.2Z"),
        "i3": image("i3", 3, "2026-01-01T00:00:01.300000000Z"),
        "i4": image("i4", 4, "2026-01-01T00:00:01.400000000Z"),
        "i5": image("i5", 5, "2026-01-02T00:00:00Z"),
    }
    api.used_image_ids = {"i2"}

    removed = await host.prune_images(REPOSITORY, [digest(3), f"{REPOSITORY}@{digest(4)}"])

    assert removed == [f"{REPOSITORY}@{digest(1)}", f"{REPOSITORY}:v1"]


async def test_prune_removes_nothing_when_no_kept_image_is_present(
    fake: tuple[DockerHost, FakeApi],
) -> None:
    host, api = fake
    api.images_by_id = {"i1": image("i1", 1, "2026-01-01T00:00:00Z")}

    assert await host.prune_images(REPOSITORY, [digest(9)]) == []
    assert api.removed == []


async def test_prune_refuses_a_keep_list_entry_that_is_not_a_digest(
    fake: tuple[DockerHost, FakeApi],
) -> None:
    host, _ = fake

    with pytest.raises(InvalidTargetInput, match="not a sha256 digest"):
        await host.prune_images(REPOSITORY, ["v2"])
