"""Shared fixtures. The Docker-over-SSH rig is started once per session, on
first use only (unit tests never start it), and torn down at the end. A rig
component that is missing is a skip, or a failure under SHIPDECK_REQUIRE_RIG=1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from console.demo.rig.daemons import RigUnavailable
from console.demo.rig.rig import Rig, RigHost
from engines.docker_host import ContainerSpec, DockerHost
from engines.ssh import SshPool
from tests.require import missing


@pytest.fixture(autouse=True)
def private_state_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test writes the runner's real ``~/.local/state/shipdeck``: a command run
    without ``--state`` gets a state store in a temp dir instead."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state-home")))


@pytest.fixture(scope="session")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """Two SSH hosts sharing one dockerd, a local registry holding demo v1/v2/v3."""
    try:
        started = Rig.start(n_hosts=2, workdir=tmp_path_factory.mktemp("rig"))
    except RigUnavailable as exc:
        missing(exc.component, exc.why)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def rig_hosts(rig: Rig) -> Iterator[list[RigHost]]:
    """The rig's hosts, with every container of theirs removed after the test and
    any sshd a test killed started again (same port, same host key)."""
    yield rig.hosts
    for sshd in rig.sshd_hosts:
        if not sshd.running:
            sshd.start()
    rig.remove_containers()


@pytest.fixture
async def ssh_pool() -> AsyncIterator[SshPool]:
    pool = SshPool()
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def docker_hosts(
    rig_hosts: list[RigHost], ssh_pool: SshPool
) -> AsyncIterator[list[DockerHost]]:
    """A ``DockerHost`` per rig host, over SSH, sharing one pool."""
    hosts = [DockerHost(host.host_spec(), ssh_pool) for host in rig_hosts]
    try:
        yield hosts
    finally:
        for host in hosts:
            await host.close()


@pytest.fixture
def demo_spec(rig: Rig) -> Callable[..., ContainerSpec]:
    """Build the ContainerSpec of a demo release, pinned by the digest the rig pushed."""

    def make(
        release: str = "v1",
        *,
        color: str = "blue",
        track: str = "",
        env: dict[str, str] | None = None,
        host_port: int = 0,
    ) -> ContainerSpec:
        return ContainerSpec(
            service="demo",
            release=release,
            image=rig.digests[release],
            container_port=8000,
            host_port=host_port,
            color=color,
            track=track,
            env={"ERROR_RATE": "0", **(env or {})},  # v1 fails 1% of "/" by design
        )

    return make
