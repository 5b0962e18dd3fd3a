"""The happy path of a deploy on real hosts: two sshd hosts sharing the rig's
dockerd, the demo image in the rig's registry, everything over SSH."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Callable

import pytest

from console.demo.rig.rig import Rig, RigHost
from engines.docker_host import ContainerSpec, DockerHost, HostSpec, PullProgress
from engines.errors import EngineOperationFailed
from engines.fanout import fan_out

pytestmark = pytest.mark.rig


def fetch_body(address: str, port: int, path: str = "/") -> str:
    with urllib.request.urlopen(f"http://{address}:{port}{path}", timeout=5) as response:
        return response.read().decode()


async def test_tag_resolves_to_the_digest_the_registry_serves(
    rig: Rig, docker_hosts: list[DockerHost]
) -> None:
    for tag in ("v1", "v2"):
        resolved = await docker_hosts[0].resolve_digest(rig.tag_reference(tag))
        served = rig.registry.manifest_digest("shipdeck/demo", tag)
        assert resolved == f"{rig.image_repository}@{served}"
        assert resolved == rig.digests[tag]
    assert rig.digests["v1"] != rig.digests["v2"]


async def test_v1_starts_by_digest_on_both_hosts_passes_health_is_listed_and_stops(
    rig: Rig, docker_hosts: list[DockerHost], demo_spec: Callable[..., ContainerSpec]
) -> None:
    spec = demo_spec("v1", color="blue")

    async def deploy(host: DockerHost):
        await host.ensure_image(spec.image)
        info = await host.start_container(spec)
        await host.wait_healthy(info)
        return info

    started = await fan_out(docker_hosts, deploy)
    assert started.all_ok, started.describe_failures()

    for host, rig_host in zip(docker_hosts, rig.hosts, strict=True):
        listed = await host.list_containers(service="demo")
        assert [(c.release, c.color, c.state, c.image) for c in listed] == [
            ("v1", "blue", "running", rig.digests["v1"])
        ]
        assert listed[0].name == f"shipdeck-{rig_host.name}-demo-blue"
        body = await asyncio.to_thread(fetch_body, rig_host.publish_address, listed[0].host_port)
        assert body == "version=v1\n"

    stopped = await fan_out(
        docker_hosts, lambda host: host.stop_container(started.values()[host.name])
    )
    assert stopped.all_ok, stopped.describe_failures()
    for host in docker_hosts:
        assert [c.state for c in await host.list_containers(service="demo")] == ["exited"]


async def test_missing_image_is_pulled_by_digest_reporting_progress(
    rig: Rig, docker_hosts: list[DockerHost]
) -> None:
    image = rig.digests["v2"]
    client = rig.docker_client()
    for reference in (image, rig.tag_reference("v2")):
        client.images.remove(reference)
    events: list[PullProgress] = []

    pulled = await docker_hosts[0].ensure_image(image, progress=events.append)

    assert pulled is True
    assert events and all(event.host == docker_hosts[0].name for event in events)
    assert await docker_hosts[0].ensure_image(image) is False


async def test_each_host_lists_only_its_own_containers(
    docker_hosts: list[DockerHost], demo_spec: Callable[..., ContainerSpec]
) -> None:
    first, second = docker_hosts
    spec = demo_spec("v1", color="green")
    await first.ensure_image(spec.image)
    await first.start_container(spec)

    assert [c.host for c in await first.list_containers()] == [first.name]
    assert await second.list_containers() == []


async def test_a_running_container_is_never_replaced(
    docker_hosts: list[DockerHost], demo_spec: Callable[..., ContainerSpec]
) -> None:
    host = docker_hosts[0]
    await host.ensure_image(demo_spec("v1").image)
    running = await host.start_container(demo_spec("v1", color="blue"))

    with pytest.raises(EngineOperationFailed, match=r"already running \(release v1\)"):
        await host.start_container(demo_spec("v2", color="blue"))

    (still,) = await host.list_containers()
    assert (still.id, still.state, still.release) == (running.id, "running", "v1")


async def test_a_stopped_leftover_of_the_same_slot_is_replaced(
    docker_hosts: list[DockerHost], demo_spec: Callable[..., ContainerSpec]
) -> None:
    host = docker_hosts[0]
    for release in ("v1", "v2"):
        await host.ensure_image(demo_spec(release).image)
    old = await host.start_container(demo_spec("v1", color="green"))
    await host.stop_container(old)

    new = await host.start_container(demo_spec("v2", color="green"))

    assert [(c.id, c.release, c.state) for c in await host.list_containers()] == [
        (new.id, "v2", "running")
    ]


async def test_another_hosts_container_cannot_be_stopped(
    docker_hosts: list[DockerHost], demo_spec: Callable[..., ContainerSpec]
) -> None:
    first, second = docker_hosts
    await first.ensure_image(demo_spec("v1").image)
    theirs = await first.start_container(demo_spec("v1"))

    with pytest.raises(EngineOperationFailed, match="not a shipdeck container of this host"):
        await second.stop_container(theirs.id)

    assert [c.state for c in await first.list_containers()] == ["running"]


async def test_canary_track_and_color_get_separate_containers(
    docker_hosts: list[DockerHost], demo_spec: Callable[..., ContainerSpec]
) -> None:
    host = docker_hosts[0]
    for release in ("v1", "v2"):
        await host.ensure_image(demo_spec(release).image)
    await host.start_container(demo_spec("v1", color="", track="stable"))
    await host.start_container(demo_spec("v2", color="", track="canary"))

    listed = await host.list_containers(service="demo")

    assert sorted((c.track, c.release) for c in listed) == [("canary", "v2"), ("stable", "v1")]


async def test_recent_logs_of_a_container_are_fetched(
    docker_hosts: list[DockerHost], demo_spec: Callable[..., ContainerSpec]
) -> None:
    host = docker_hosts[0]
    spec = demo_spec("v1", color="green", env={"PORT": "not-a-port"})
    await host.ensure_image(spec.image)
    info = await host.start_container(spec)
    with pytest.raises(EngineOperationFailed):
        await host.wait_healthy(info)

    logs = await host.logs(info, tail_lines=5)

    assert "ValueError: invalid literal for int() with base 10: 'not-a-port'" in logs
    assert len(logs.splitlines()) <= 5


async def test_a_local_host_uses_its_docker_socket_and_probes_health_directly(
    rig_hosts: list[RigHost], demo_spec: Callable[..., ContainerSpec]
) -> None:
    spec = rig_hosts[0].host_spec()
    local = DockerHost(
        HostSpec(
            name=spec.name,
            docker_socket=spec.docker_socket,
            publish_address=spec.publish_address,
        )
    )
    try:
        await local.ensure_image(demo_spec("v2").image)
        info = await local.start_container(demo_spec("v2", color="blue"))
        healthy = await local.wait_healthy(info)
        listed = await local.list_containers()
    finally:
        await local.close()

    assert healthy.attempts >= 1
    assert [(c.release, c.state) for c in listed] == [("v2", "running")]
