"""Bad input and faults on real hosts: each gives a precise error naming the
host and the cause, and leaves running containers untouched."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from console.demo.rig.daemons import free_port
from console.demo.rig.rig import Rig, RigHost
from console.demo.rig.sshd import generate_key_pair, known_hosts_line
from engines.docker_host import ContainerSpec, DockerHost, HealthCheck, HostSpec
from engines.errors import EngineOperationFailed, TargetUnreachable
from engines.fanout import fan_out
from engines.ssh import SshPool

pytestmark = pytest.mark.rig

MISSING_DIGEST = "sha256:" + "0" * 64


def running_states(rig: Rig) -> dict[str, str]:
    """Container name → state, read straight from dockerd (not over SSH)."""
    client = rig.docker_client()
    names = {host.name for host in rig.hosts}
    return {
        container.name: container.status
        for container in client.containers.list(all=True)
        if container.labels.get("shipdeck.host") in names
    }


async def test_unknown_host_key_is_refused_naming_the_host(
    rig_hosts: list[RigHost], ssh_pool: SshPool, tmp_path: Path
) -> None:
    empty_known_hosts = tmp_path / "known_hosts"
    empty_known_hosts.write_text("")
    target = dataclasses.replace(rig_hosts[0].ssh_target(), known_hosts=empty_known_hosts)

    with pytest.raises(TargetUnreachable) as refused:
        await ssh_pool.connection(target)

    assert refused.value.target == rig_hosts[0].name
    assert "host is not listed in known_hosts" in refused.value.cause


async def test_changed_host_key_is_refused_as_a_mismatch(
    rig_hosts: list[RigHost], ssh_pool: SshPool, tmp_path: Path
) -> None:
    impostor_key = generate_key_pair(tmp_path / "impostor")
    wrong_known_hosts = tmp_path / "known_hosts"
    wrong_known_hosts.write_text(known_hosts_line(rig_hosts[0].ssh_port, impostor_key) + "\n")
    target = dataclasses.replace(rig_hosts[0].ssh_target(), known_hosts=wrong_known_hosts)

    with pytest.raises(TargetUnreachable, match="host key does not match") as refused:
        await ssh_pool.connection(target)

    assert refused.value.target == rig_hosts[0].name


async def test_wrong_client_key_is_refused_naming_the_host_and_key(
    rig_hosts: list[RigHost], ssh_pool: SshPool, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger_ed25519"
    generate_key_pair(stranger)
    target = dataclasses.replace(rig_hosts[0].ssh_target(), identity_file=stranger)

    with pytest.raises(TargetUnreachable, match=f"refused with {stranger}") as refused:
        await ssh_pool.connection(target)

    assert refused.value.target == rig_hosts[0].name


async def test_sshd_down_is_reported_as_connection_refused(
    rig_hosts: list[RigHost], ssh_pool: SshPool
) -> None:
    nobody_listens = free_port()
    target = dataclasses.replace(rig_hosts[0].ssh_target(), port=nobody_listens)

    with pytest.raises(
        TargetUnreachable, match=f"connection refused at 127.0.0.1:{nobody_listens}"
    ):
        await ssh_pool.connection(target)


async def test_missing_docker_socket_is_reported_naming_the_socket(
    rig_hosts: list[RigHost], ssh_pool: SshPool
) -> None:
    spec = dataclasses.replace(rig_hosts[0].host_spec(), docker_socket="/run/nowhere/docker.sock")
    host = DockerHost(spec, ssh_pool)

    with pytest.raises(TargetUnreachable) as unreachable:
        await host.ping()

    await host.close()
    assert unreachable.value.target == spec.name
    assert "/run/nowhere/docker.sock does not exist" in unreachable.value.cause


async def test_missing_local_docker_socket_is_reported_naming_the_socket() -> None:
    host = DockerHost(HostSpec(name="local", docker_socket="/run/nowhere/docker.sock"))

    with pytest.raises(TargetUnreachable, match="docker socket /run/nowhere/docker.sock"):
        await host.ping()

    await host.close()


async def test_image_missing_from_registry_fails_the_pull_naming_the_image(
    rig: Rig, docker_hosts: list[DockerHost]
) -> None:
    absent = f"{rig.image_repository}@{MISSING_DIGEST}"

    with pytest.raises(EngineOperationFailed) as failed:
        await docker_hosts[0].ensure_image(absent)

    assert failed.value.target == docker_hosts[0].name
    assert f"pulling {absent}" in failed.value.cause


async def test_unknown_tag_cannot_be_resolved(rig: Rig, docker_hosts: list[DockerHost]) -> None:
    with pytest.raises(EngineOperationFailed, match="resolving .*:v404"):
        await docker_hosts[0].resolve_digest(rig.tag_reference("v404"))


async def test_container_exiting_at_start_fails_with_its_last_log_lines(
    docker_hosts: list[DockerHost], demo_spec: Callable[..., ContainerSpec]
) -> None:
    host = docker_hosts[0]
    spec = demo_spec("v1", color="green", env={"PORT": "not-a-port"})
    await host.ensure_image(spec.image)
    info = await host.start_container(spec)

    with pytest.raises(EngineOperationFailed) as failed:
        await host.wait_healthy(info, HealthCheck(timeout_s=20))

    assert failed.value.target == host.name
    assert f"container {info.name} exited at start" in failed.value.cause
    assert "ValueError: invalid literal for int()" in failed.value.cause


async def test_health_timeout_names_the_container_and_the_last_status(
    rig: Rig, docker_hosts: list[DockerHost], demo_spec: Callable[..., ContainerSpec]
) -> None:
    host = docker_hosts[0]
    spec = demo_spec("v1", color="green", env={"HEALTHY": "false"})
    await host.ensure_image(spec.image)
    info = await host.start_container(spec)

    with pytest.raises(EngineOperationFailed) as failed:
        await host.wait_healthy(info, HealthCheck(timeout_s=1.5, interval_s=0.2))

    assert failed.value.target == host.name
    assert f"container {info.name} not healthy" in failed.value.cause
    assert "last: HTTP 503" in failed.value.cause
    assert running_states(rig)[info.name] == "running"


async def test_host_dying_mid_operation_is_reported_and_containers_stay_running(
    rig: Rig, docker_hosts: list[DockerHost], demo_spec: Callable[..., ContainerSpec]
) -> None:
    healthy_host, dying_host = docker_hosts
    await healthy_host.ensure_image(demo_spec("v1").image)
    survivor = await healthy_host.start_container(demo_spec("v1", color="blue"))
    stuck = await dying_host.start_container(
        demo_spec("v1", color="green", env={"HEALTHY": "false"})
    )
    waiting = asyncio.create_task(dying_host.wait_healthy(stuck, HealthCheck(timeout_s=30)))
    await asyncio.sleep(0.8)

    killed_at = time.monotonic()
    rig.sshd(dying_host.name).kill()
    with pytest.raises(TargetUnreachable) as unreachable:
        await waiting

    assert time.monotonic() - killed_at < 5
    assert unreachable.value.target == dying_host.name
    assert "SSH connection" in unreachable.value.cause
    assert running_states(rig) == {survivor.name: "running", stuck.name: "running"}
    await healthy_host.wait_healthy(survivor)


async def test_fan_out_with_a_dead_host_names_it_and_completes_on_the_others(
    rig: Rig, docker_hosts: list[DockerHost], demo_spec: Callable[..., ContainerSpec]
) -> None:
    alive, dead = docker_hosts
    spec = demo_spec("v1", color="blue")
    await alive.ensure_image(spec.image)
    rig.sshd(dead.name).kill()

    async def deploy(host: DockerHost) -> str:
        info = await host.start_container(spec)
        await host.wait_healthy(info)
        return info.name

    result = await fan_out(docker_hosts, deploy)

    assert result.failed_labels == [dead.name]
    assert isinstance(result.failed[0].error, TargetUnreachable)
    assert "connection refused" in result.describe_failures()
    assert result.values() == {alive.name: f"shipdeck-{alive.name.lower()}-demo-blue"}
    assert [c.state for c in await alive.list_containers()] == ["running"]


async def test_pool_reconnects_once_the_host_is_back(
    rig: Rig, docker_hosts: list[DockerHost]
) -> None:
    host = docker_hosts[1]
    await host.ping()
    sshd = rig.sshd(host.name)
    sshd.kill()
    with pytest.raises(TargetUnreachable):
        await host.ping()

    sshd.start()

    assert await host.ping() == (await asyncio.to_thread(rig.docker_client().version))["Version"]
