"""The demo's local environment: the same engines as production, on loopback.

Two Docker "hosts" reached over SSH (the rig: sshd instances with generated
keys in front of the local dockerd), the local registry with v1/v2/v3 of the
demo app, a private nginx as the LB, Prometheus when installed (otherwise the
judge scrapes instances directly), SQLite state and a demo flags file — all
under one directory. What was started is recorded in ``environment.json`` so
``shipdeck demo --down`` from any process stops exactly that, and nothing else.

The rig lives in ``console/demo/rig`` (the integration tests run on it too), so
an installed shipdeck runs the demo as well as a source checkout (``make demo``).
It must never write inside the package: everything goes under ``directory``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from console.core.errors import Unreachable
from console.demo.rig.edge import NginxEdge, PrometheusServer
from console.demo.rig.rig import Rig


def _demo_file(name: str) -> Path:
    """``config/NAME``: in a wheel it ships as ``console/demo/config/NAME``
    (pyproject's force-include); in a source checkout it is read from ``config/``."""
    here = Path(__file__).resolve().parent
    packaged = here / "config" / name
    return packaged if packaged.is_file() else here.parents[1] / "config" / name


DEMO_CONFIG = _demo_file("demo.toml")
DEMO_FLAGS = _demo_file("flags.demo.toml")
HOST_NAMES = ["demo-1", "demo-2"]
PROMETHEUS_PORT = 19090


def make_demo_directory(directory: Path) -> None:
    """Create the demo directory 0700: it holds the state store, keys and config.

    A directory that already exists (``--dir .`` or ``--dir /tmp``) is the user's:
    its mode is left alone; the state store makes its own files 0600.
    """
    directory.parent.mkdir(parents=True, exist_ok=True)
    try:
        directory.mkdir(mode=0o700)
    except FileExistsError:
        return
    directory.chmod(0o700)  # mkdir's mode passes through the umask


@dataclass
class DemoEnvironment:
    """A running demo environment; ``config_path`` is what every command is pointed at."""

    directory: Path
    config_path: Path
    listen_port: int
    digests: dict[str, str]
    rig: Any = None
    nginx: Any = None
    prometheus: Any = None

    @property
    def state_path(self) -> Path:
        return self.directory / "state.db"

    @classmethod
    def up(
        cls, directory: Path, *, progress: Any = print, use_prometheus: bool = True
    ) -> DemoEnvironment:
        """Start everything; on any failure stop what was started and raise ``Unreachable``."""
        directory = directory.resolve()
        if (directory / "environment.json").exists():
            progress(f"a previous demo left {directory}; stopping it first")
            down(directory, progress=progress)
        make_demo_directory(directory)
        started: list[Any] = []
        try:
            progress("starting the rig: dockerd, registry, 2 sshd hosts, demo images v1/v2/v3 …")
            began = time.monotonic()
            rig = Rig.start(n_hosts=2, workdir=directory / "rig", host_names=HOST_NAMES)
            started.append(rig)
            progress(
                f"  rig up in {time.monotonic() - began:.1f}s ({', '.join(f'{k} {v:.1f}s' for k, v in rig.timings_s.items())})"
            )
            nginx = NginxEdge.start(directory / "nginx")
            started.append(nginx)
            progress(f"  nginx up (config in {nginx.directory})")
            prometheus = None
            if use_prometheus and shutil.which("prometheus"):
                targets = directory / "prometheus-targets.json"
                prometheus = PrometheusServer.start(
                    directory / "prometheus", PROMETHEUS_PORT, targets
                )
                started.append(prometheus)
                progress(f"  prometheus up at {prometheus.url}")
            else:
                progress("  prometheus not installed: the judge scrapes instances directly")
            config_path, listen_port = write_config(directory, rig, nginx, prometheus)
            shutil.copyfile(DEMO_FLAGS, directory / "flags.toml")
            env = cls(
                directory, config_path, listen_port, dict(rig.digests), rig, nginx, prometheus
            )
            env.record()
            return env
        except BaseException as error:
            for component in reversed(started):
                with contextlib.suppress(Exception):
                    component.stop()
            if isinstance(error, Exception) and not isinstance(error, Unreachable):
                raise Unreachable(f"demo environment: {error}") from None
            raise

    def record(self) -> None:
        """What ``--down`` needs from another process: pids, the docker socket, the directory."""
        pids = []
        rig = self.rig
        for sshd in rig.sshd_hosts:
            process = getattr(sshd, "process", None)
            if process is not None:
                pids.append({"component": "sshd", "pid": process.pid})
        for component, holder in (
            ("registry", rig.registry),
            ("nginx", self.nginx),
            ("prometheus", self.prometheus),
        ):
            process = getattr(holder, "process", None) if holder is not None else None
            if process is not None:
                pids.append({"component": component, "pid": process.pid})
        dockerd = None
        if rig.docker.started_by_rig and getattr(rig.docker, "process", None) is not None:
            dockerd = rig.docker.process.pid
        document = {
            "directory": str(self.directory),
            "docker_socket": rig.docker.socket_path,
            "dockerd_pid": dockerd,
            "pids": pids,
            "hosts": HOST_NAMES,
            "config": str(self.config_path),
        }
        tmp = self.directory / "environment.json.tmp"
        tmp.write_text(json.dumps(document, indent=2))
        tmp.replace(self.directory / "environment.json")

    def update_prometheus_targets(self) -> None:
        """Scrape every slot port on every host; series are told apart by their version label."""
        if self.prometheus is None:
            return
        with open(self.config_path, "rb") as handle:
            config = tomllib.load(handle)
        service = config["services"]["web"]
        base = int(service["base_port"])
        targets = [
            f"{config['hosts'][h]['publish_address']}:{base + offset}"
            for h in service["hosts"]
            for offset in (0, 1)
        ]
        path = self.directory / "prometheus-targets.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps([{"targets": targets, "labels": {"job": "web"}}]))
        tmp.replace(path)

    def stop(self) -> None:
        for component in (self.prometheus, self.nginx):
            if component is not None:
                with contextlib.suppress(Exception):
                    component.stop()
        if self.rig is not None:
            self.rig.stop()
        with contextlib.suppress(OSError):
            (self.directory / "environment.json").unlink()


def write_config(directory: Path, rig: Any, nginx: Any, prometheus: Any) -> tuple[Path, int]:
    """demo.toml + what exists only now → ``directory/shipdeck.toml``."""
    with open(DEMO_CONFIG, "rb") as handle:
        config = tomllib.load(handle)
    config["hosts"] = {
        host.name: {
            "address": f"ssh://root@{host.ssh_address}:{host.ssh_port}",
            "docker_socket": host.docker_socket,
            "known_hosts": str(host.known_hosts),
            "identity_file": str(host.identity_file),
            "publish_address": host.publish_address,
            "connect_timeout_s": 5,
        }
        for host in rig.hosts
    }
    lb = config["load_balancers"]["edge"]
    lb["config_dir"] = str(nginx.config_dir)
    lb["main_config"] = str(nginx.main_config)
    lb["validate_command"] = list(nginx.validate_command)
    lb["reload_command"] = list(nginx.reload_command)
    if prometheus is not None:
        config["metrics"]["prometheus_url"] = prometheus.url
    service = config["services"]["web"]
    service["image"] = rig.image_repository
    service["hosts"] = [h.name for h in rig.hosts]
    config["state_path"] = str(directory / "state.db")
    path = directory / "shipdeck.toml"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        "# Generated by `shipdeck demo` from config/demo.toml (demo-only values); do not edit.\n"
        + tomli_w.dumps(config)
    )
    tmp.replace(path)
    listen = service["listen"].rpartition(":")[2]
    return path, int(listen)


def _pid_is(pid: int, name: str) -> bool:
    try:
        cmdline = (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return False
    return name in cmdline


def _terminate(pid: int, name: str, timeout_s: float = 10.0) -> None:
    if not _pid_is(pid, name):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _pid_is(pid, name):
        time.sleep(0.1)
    if _pid_is(pid, name):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def down(directory: Path, *, progress: Any = print) -> dict[str, Any]:
    """Stop and remove everything a demo started (containers, processes, files)."""
    directory = directory.resolve()
    record_path = directory / "environment.json"
    stopped: dict[str, Any] = {"containers": 0, "processes": 0, "directory_removed": False}
    if record_path.exists():
        record = json.loads(record_path.read_text())
        for entry in record.get("background", []):
            _terminate(int(entry["pid"]), "console")
            stopped["processes"] += 1
        stopped["containers"] = _remove_containers(
            record.get("docker_socket"), record.get("hosts", [])
        )
        names = {
            "sshd": "sshd",
            "registry": "registry",
            "nginx": "nginx",
            "prometheus": "prometheus",
        }
        for entry in record.get("pids", []):
            _terminate(int(entry["pid"]), names.get(entry["component"], entry["component"]))
            stopped["processes"] += 1
        if record.get("dockerd_pid"):
            _terminate(int(record["dockerd_pid"]), "dockerd", timeout_s=20)
            stopped["processes"] += 1
    if directory.exists():
        shutil.rmtree(directory, ignore_errors=True)
        stopped["directory_removed"] = True
    progress(
        f"demo down: {stopped['containers']} containers removed, {stopped['processes']} processes stopped"
    )
    return stopped


def _remove_containers(socket_path: str | None, hosts: list[str]) -> int:
    if not socket_path or not os.path.exists(socket_path):
        return 0
    import docker

    removed = 0
    try:
        client = docker.DockerClient(base_url=f"unix://{socket_path}", version="auto", timeout=20)
    except Exception:  # a dead dockerd has nothing left to remove
        return 0
    try:
        for container in client.containers.list(all=True, filters={"label": "shipdeck.service"}):
            if any(container.name.startswith(f"shipdeck-{host}-") for host in hosts):
                container.remove(force=True)
                removed += 1
    finally:
        client.close()
    return removed


def attach(directory: Path) -> DemoEnvironment:
    """The running environment recorded in ``directory`` (from another process)."""
    directory = directory.resolve()
    record_path = directory / "environment.json"
    if not record_path.exists():
        raise Unreachable(f"no demo is running in {directory}: start one with shipdeck demo")
    record = json.loads(record_path.read_text())
    config_path = Path(record["config"])
    with open(config_path, "rb") as handle:
        config = tomllib.load(handle)
    listen_port = int(config["services"]["web"]["listen"].rpartition(":")[2])
    env = DemoEnvironment(directory, config_path, listen_port, {})
    env.prometheus = object() if config.get("metrics", {}).get("prometheus_url") else None
    return env


def record_background(directory: Path, pid: int) -> None:
    record_path = directory / "environment.json"
    record = json.loads(record_path.read_text())
    record.setdefault("background", []).append({"pid": pid})
    tmp = record_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2))
    tmp.replace(record_path)
