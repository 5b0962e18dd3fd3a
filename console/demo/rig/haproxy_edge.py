"""A real HAProxy edge for the rig and the demo, in its own directory.

Master-worker mode (``-W``) in the foreground of its own session, with a master
CLI socket (``-S``, used for graceful reloads) and an admin stats socket that
exposes the listening sockets (``expose-fd listeners``), so a reload hands them
to the new worker and no connection attempt is refused. The managed include
directory ``conf.d`` holds one ``.cfg`` per service; ``main.cfg`` has only the
global section, defaults and a tiny always-200 frontend (HAProxy refuses to run
with no listener at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from console.demo.rig.daemons import (
    DaemonProcess,
    RigUnavailable,
    find_binary,
    free_port,
    port_answers,
)

HAPROXY_MAIN = """\
global
    stats socket {dir}/admin.sock mode 600 level admin expose-fd listeners
    stats timeout 30s
    hard-stop-after 30s
    maxconn 4000

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s

frontend edge-alive
    bind 127.0.0.1:{alive_port}
    http-request return status 200
"""


@dataclass
class HaproxyEdge:
    directory: Path
    process: DaemonProcess
    binary: str
    alive_port: int

    @property
    def main_config(self) -> Path:
        return self.directory / "main.cfg"

    @property
    def config_dir(self) -> Path:
        return self.directory / "conf.d"

    @property
    def stats_socket(self) -> Path:
        return self.directory / "admin.sock"

    @property
    def master_socket(self) -> Path:
        return self.directory / "master.sock"

    @property
    def pid_file(self) -> Path:
        return self.directory / "haproxy.pid"

    @property
    def validate_command(self) -> list[str]:
        return [self.binary, "-c", "-q", "-f", str(self.main_config), "-f", str(self.config_dir)]

    @property
    def reload_command(self) -> list[str]:
        """Empty: reload through the master CLI (``reload`` on ``master_socket``)."""
        return []

    @classmethod
    def start(cls, directory: Path) -> HaproxyEdge:
        binary = find_binary("haproxy", "haproxy")
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "conf.d").mkdir(exist_ok=True)
        alive_port = free_port()
        main = directory / "main.cfg"
        main.write_text(HAPROXY_MAIN.format(dir=directory, alive_port=alive_port))
        master = directory / "master.sock"
        process = DaemonProcess.start(
            "haproxy",
            [
                binary,
                "-W",
                "-S",
                f"{master},mode,600",
                "-f",
                str(main),
                "-f",
                str(directory / "conf.d"),
                "-p",
                str(directory / "haproxy.pid"),
            ],
            directory / "haproxy.log",
        )
        try:
            process.wait_ready(
                lambda: (
                    master.exists()
                    and (directory / "admin.sock").exists()
                    and port_answers("127.0.0.1", alive_port)
                ),
                "listening",
                15.0,
            )
        except RigUnavailable:
            process.stop()
            raise
        return cls(directory, process, binary, alive_port)

    def serving(self, port: int) -> bool:
        return port_answers("127.0.0.1", port)

    def stop(self) -> None:
        self.process.stop()


__all__ = ["HaproxyEdge", "RigUnavailable"]
