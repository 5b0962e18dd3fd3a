"""The rig's Docker daemon: the machine's own if one answers, else one we start.

A dockerd we start is fully private, so several rigs (parallel test sessions)
never collide: its own data root, exec root and socket, and its own Linux bridge
on a random 10.x.y.0/24 subnet. It leaves the firewall alone (``--iptables=false``);
published ports then go through docker-proxy, which is all loopback needs.
Only a daemon we started is stopped.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors

from console.demo.rig.daemons import DaemonProcess, RigUnavailable, find_binary

SYSTEM_SOCKET = "/var/run/docker.sock"
START_TIMEOUT_S = 60.0


def existing_socket_path() -> str:
    """Where the machine's own dockerd would listen: ``DOCKER_HOST`` when it names
    a UNIX socket, else the default socket."""
    docker_host = os.environ.get("DOCKER_HOST", "")
    if docker_host.startswith("unix://"):
        return docker_host.removeprefix("unix://")
    return SYSTEM_SOCKET


def socket_answers(socket_path: str) -> bool:
    """Whether a dockerd answers a ping on this socket."""
    if not os.path.exists(socket_path):
        return False
    try:
        client = docker.DockerClient(base_url=f"unix://{socket_path}", version="auto", timeout=5)
    except docker.errors.DockerException:
        return False
    try:
        return bool(client.ping())
    except Exception:  # any failure means "does not answer"
        return False
    finally:
        client.close()


@dataclass
class RigDocker:
    """A Docker daemon the rig uses; ``process`` is set only if we started it."""

    socket_path: str
    process: DaemonProcess | None = None
    bridge: str | None = None
    private_dir: Path | None = None
    _clients: list[docker.DockerClient] = field(default_factory=list)

    @classmethod
    def ensure(cls, workdir: Path) -> RigDocker:
        """The machine's dockerd if it answers (``DOCKER_HOST=unix://…`` or the
        default socket), else a private one under ``workdir``."""
        existing = existing_socket_path()
        if socket_answers(existing):
            return cls(socket_path=existing)
        return cls._start_private(workdir)

    @property
    def started_by_rig(self) -> bool:
        return self.process is not None

    def client(self, timeout_s: int = 120) -> docker.DockerClient:
        client = docker.DockerClient(
            base_url=f"unix://{self.socket_path}", version="auto", timeout=timeout_s
        )
        self._clients.append(client)
        return client

    def stop(self) -> None:
        """Stop the daemon if we started it (its containers go with it)."""
        for client in self._clients:
            with contextlib.suppress(Exception):
                client.close()
        self._clients.clear()
        if self.process is not None:
            self.process.stop(timeout_s=30.0)
            self.process = None
        if self.bridge is not None:
            subprocess.run(
                [find_binary("ip", "iproute2"), "link", "delete", self.bridge],
                check=False,
                capture_output=True,
            )
            self.bridge = None
        if self.private_dir is not None:
            shutil.rmtree(self.private_dir, ignore_errors=True)
            self.private_dir = None

    @classmethod
    def _start_private(cls, workdir: Path) -> RigDocker:
        dockerd = find_binary("dockerd", "docker.io")
        if os.geteuid() != 0:
            raise RigUnavailable("dockerd", "no dockerd answers and starting one needs root")
        # Sockets live under a short /tmp path: UNIX socket paths are limited to 108 bytes.
        private_dir = Path(tempfile.mkdtemp(prefix="shipdeck-dockerd-"))
        try:
            bridge = _create_private_bridge()
        except RigUnavailable:
            shutil.rmtree(private_dir, ignore_errors=True)
            raise
        socket_path = str(private_dir / "docker.sock")
        data_root = workdir / "dockerd-data"
        data_root.mkdir(parents=True, exist_ok=True)
        argv = [
            dockerd,
            f"--data-root={data_root}",
            f"--exec-root={private_dir / 'exec'}",
            f"--pidfile={private_dir / 'dockerd.pid'}",
            f"--host=unix://{socket_path}",
            *([f"--bridge={bridge}"] if bridge else []),
            "--iptables=false",
            "--ip-forward=false",
            "--ip-masq=false",
            "--log-level=warn",
        ]
        process = DaemonProcess.start("dockerd", argv, workdir / "dockerd.log")
        rig_docker = cls(socket_path, process, bridge, private_dir)
        try:
            process.wait_ready(lambda: socket_answers(socket_path), "answering", START_TIMEOUT_S)
        except RigUnavailable:
            rig_docker.stop()
            raise
        return rig_docker


def _create_private_bridge() -> str | None:
    """A bridge of our own on a random 10.x.y.0/24, so parallel rigs never fight
    over docker0. Without iproute2, dockerd's default bridge is used instead
    (fine unless two rigs run at once)."""
    try:
        ip = find_binary("ip", "iproute2")
    except RigUnavailable:
        return None
    bridge = f"sdk{secrets.token_hex(4)}"
    subnet = f"10.{random.randint(64, 250)}.{random.randint(1, 254)}"
    for argv in (
        [ip, "link", "add", "name", bridge, "type", "bridge"],
        [ip, "addr", "add", f"{subnet}.1/24", "dev", bridge],
        [ip, "link", "set", bridge, "up"],
    ):
        result = subprocess.run(argv, check=False, capture_output=True, text=True)
        if result.returncode != 0:
            subprocess.run([ip, "link", "delete", bridge], check=False, capture_output=True)
            raise RigUnavailable(
                "dockerd", f"cannot create bridge {bridge}: {result.stderr.strip()}"
            )
    return bridge
