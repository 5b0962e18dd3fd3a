"""The whole Docker-over-SSH rig in one object, for tests, benchmarks and the demo.

    rig = Rig.start(n_hosts=2, workdir=Path("/tmp/rig"))
    try:
        for host in rig.hosts:
            print(host.name, host.ssh_port, host.publish_address)
        print(rig.digests["v1"])            # 127.0.0.1:PORT/shipdeck/demo@sha256:…
        pool = SshPool()
        docker_host = DockerHost(rig.hosts[0].host_spec(), pool)
    finally:
        rig.stop()

Everything listens on 127.0.0.x. The hosts share one dockerd; each has its own
sshd (own port and host key) and its own publish address (127.77.N.11, .12, …),
so host ports never collide, and a random name suffix keeps parallel rigs that
share the machine's dockerd apart. Plain Python: failures raise
``RigUnavailable`` naming the component; pytest fixtures turn that into skips.
"""

from __future__ import annotations

import contextlib
import random
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from console.demo.rig.daemons import RigUnavailable
from console.demo.rig.docker import RigDocker
from console.demo.rig.images import DEMO_REPOSITORY, default_cache_dir, publish_demo_images
from console.demo.rig.registry import RigRegistry
from console.demo.rig.sshd import SshdHost, generate_key_pair
from engines.docker_host import LABEL_HOST, HostSpec
from engines.ssh import SshTarget

__all__ = ["Rig", "RigHost", "RigUnavailable"]


@dataclass(frozen=True)
class RigHost:
    """How to reach one rig host, and where its containers publish ports."""

    name: str
    ssh_address: str
    ssh_port: int
    publish_address: str
    known_hosts: Path
    identity_file: Path
    docker_socket: str

    def ssh_target(self, *, connect_timeout_s: float = 5.0) -> SshTarget:
        return SshTarget(
            name=self.name,
            address=self.ssh_address,
            port=self.ssh_port,
            user="root",
            known_hosts=self.known_hosts,
            identity_file=self.identity_file,
            connect_timeout_s=connect_timeout_s,
        )

    def host_spec(self, *, connect_timeout_s: float = 5.0) -> HostSpec:
        return HostSpec(
            name=self.name,
            ssh=self.ssh_target(connect_timeout_s=connect_timeout_s),
            docker_socket=self.docker_socket,
            publish_address=self.publish_address,
        )


class Rig:
    """A started rig. Use ``Rig.start(...)``; always ``stop()`` it (or ``with``)."""

    def __init__(
        self,
        *,
        workdir: Path,
        owns_workdir: bool,
        docker_daemon: RigDocker,
        registry: RigRegistry,
        sshd_hosts: list[SshdHost],
        hosts: list[RigHost],
        digests: dict[str, str],
        known_hosts: Path,
        identity_file: Path,
        timings_s: dict[str, float],
    ) -> None:
        self.workdir = workdir
        self._owns_workdir = owns_workdir
        self.docker = docker_daemon
        self.registry = registry
        self.sshd_hosts = sshd_hosts
        self.hosts = hosts
        self.digests = digests
        self.known_hosts = known_hosts
        self.identity_file = identity_file
        self.timings_s = timings_s

    @classmethod
    def start(
        cls,
        n_hosts: int = 2,
        workdir: Path | None = None,
        *,
        cache_dir: Path | None = None,
        host_names: list[str] | None = None,
    ) -> Rig:
        """Start dockerd (unless one answers), the registry, ``n_hosts`` sshd
        instances, and publish the demo image as v1, v2, v3."""
        if host_names is not None and len(host_names) != n_hosts:
            raise ValueError("host_names must name exactly n_hosts hosts")
        owns_workdir = workdir is None
        workdir = Path(tempfile.mkdtemp(prefix="shipdeck-rig-")) if workdir is None else workdir
        workdir.mkdir(parents=True, exist_ok=True)
        cache_dir = cache_dir or default_cache_dir()
        suffix = secrets.token_hex(2)
        names = host_names or [f"h{index}-{suffix}" for index in range(1, n_hosts + 1)]
        address_block = f"127.77.{random.randint(1, 254)}"
        timings_s: dict[str, float] = {}
        started: list[object] = []
        try:
            began = time.perf_counter()
            docker_daemon = RigDocker.ensure(workdir)
            started.append(docker_daemon)
            timings_s["dockerd"] = time.perf_counter() - began

            began = time.perf_counter()
            registry = RigRegistry.start(workdir)
            started.append(registry)
            timings_s["registry"] = time.perf_counter() - began

            began = time.perf_counter()
            identity_file = workdir / "client" / "id_ed25519"
            identity_file.parent.mkdir(parents=True, exist_ok=True)
            identity_file.parent.chmod(0o700)
            client_public_key = generate_key_pair(identity_file)
            sshd_hosts = []
            for name in names:
                sshd = SshdHost.create(name, workdir / "sshd" / name, client_public_key)
                sshd.start(may_change_port=True)
                started.append(sshd)
                sshd_hosts.append(sshd)
            known_hosts = workdir / "known_hosts"
            known_hosts.write_text("".join(f"{s.known_hosts_line}\n" for s in sshd_hosts))
            timings_s["sshd"] = time.perf_counter() - began

            began = time.perf_counter()
            client = docker_daemon.client()
            try:
                digests = publish_demo_images(client, registry.address, cache_dir)
            except docker.errors.DockerException as exc:
                raise RigUnavailable("demo image", str(exc)) from exc
            timings_s["images"] = time.perf_counter() - began
        except BaseException:
            for component in reversed(started):
                with contextlib.suppress(Exception):
                    component.stop()  # type: ignore[attr-defined]
            if owns_workdir:
                shutil.rmtree(workdir, ignore_errors=True)
            raise
        hosts = [
            RigHost(
                name=sshd.name,
                ssh_address=sshd.address,
                ssh_port=sshd.port,
                publish_address=f"{address_block}.{10 + index}",
                known_hosts=known_hosts,
                identity_file=identity_file,
                docker_socket=docker_daemon.socket_path,
            )
            for index, sshd in enumerate(sshd_hosts, start=1)
        ]
        return cls(
            workdir=workdir,
            owns_workdir=owns_workdir,
            docker_daemon=docker_daemon,
            registry=registry,
            sshd_hosts=sshd_hosts,
            hosts=hosts,
            digests=digests,
            known_hosts=known_hosts,
            identity_file=identity_file,
            timings_s=timings_s,
        )

    def __enter__(self) -> Rig:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def registry_address(self) -> str:
        return self.registry.address

    @property
    def image_repository(self) -> str:
        """``127.0.0.1:PORT/shipdeck/demo`` — the repository the tags live in."""
        return f"{self.registry.address}/{DEMO_REPOSITORY}"

    def tag_reference(self, tag: str) -> str:
        return f"{self.image_repository}:{tag}"

    def host(self, name: str) -> RigHost:
        return next(host for host in self.hosts if host.name == name)

    def sshd(self, name: str) -> SshdHost:
        return next(sshd for sshd in self.sshd_hosts if sshd.name == name)

    def docker_client(self) -> docker.DockerClient:
        """A direct (not over SSH) client of the rig's dockerd, for test checks."""
        return self.docker.client()

    def remove_containers(self) -> int:
        """Force-remove every container of this rig's hosts; returns how many."""
        client = self.docker.client()
        removed = 0
        for host in self.hosts:
            for container in client.containers.list(
                all=True, filters={"label": f"{LABEL_HOST}={host.name}"}
            ):
                with contextlib.suppress(docker.errors.NotFound):
                    container.remove(force=True)
                    removed += 1
        return removed

    def stop(self) -> None:
        """Remove the rig's containers and stop what the rig started."""
        with contextlib.suppress(Exception):
            self.remove_containers()
        if not self.docker.started_by_rig:
            with contextlib.suppress(Exception):
                self._untag_registry_references()
        for sshd in self.sshd_hosts:
            with contextlib.suppress(Exception):
                sshd.stop()
        with contextlib.suppress(Exception):
            self.registry.stop()
        self.docker.stop()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _untag_registry_references(self) -> None:
        """A shared dockerd keeps no references to this rig's (now gone) registry."""
        client = self.docker.client()
        for image in client.images.list(name=self.image_repository):
            references = [*image.tags, *image.attrs.get("RepoDigests", [])]
            for reference in references:
                if reference.startswith(f"{self.registry.address}/"):
                    with contextlib.suppress(docker.errors.APIError):
                        client.images.remove(reference)
