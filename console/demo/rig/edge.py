"""A real nginx (or HAProxy) edge for the rig and the demo, in its own directory.

The instance never touches /etc: its main config, pid file, logs, temp paths
and the managed include directory (where shipdeck writes one file per service)
all live under ``directory``. Runs in the foreground of its own session so the
rig can stop it, and reloads gracefully on ``nginx -s reload``.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from console.demo.rig.daemons import DaemonProcess, RigUnavailable, find_binary, port_answers

NGINX_MAIN = """\
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    include {dir}/conf.d/*.conf;
}}
"""


@dataclass
class NginxEdge:
    directory: Path
    process: DaemonProcess
    binary: str

    @property
    def main_config(self) -> Path:
        return self.directory / "nginx.conf"

    @property
    def config_dir(self) -> Path:
        return self.directory / "conf.d"

    @property
    def validate_command(self) -> list[str]:
        return [self.binary, "-t", "-q", "-c", str(self.main_config), "-p", str(self.directory)]

    @property
    def reload_command(self) -> list[str]:
        return [self.binary, "-c", str(self.main_config), "-p", str(self.directory), "-s", "reload"]

    @classmethod
    def start(cls, directory: Path) -> NginxEdge:
        binary = find_binary("nginx", "nginx")
        directory.mkdir(parents=True, exist_ok=True)
        for sub in ("conf.d", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
            (directory / sub).mkdir(parents=True, exist_ok=True)
        main = directory / "nginx.conf"
        main.write_text(NGINX_MAIN.format(dir=directory))
        pid_file = directory / "nginx.pid"
        process = DaemonProcess.start(
            "nginx",
            [binary, "-c", str(main), "-p", str(directory), "-g", "daemon off;"],
            directory / "nginx.out",
        )
        process.wait_ready(pid_file.exists, "writing its pid file", 10.0)
        return cls(directory, process, binary)

    def serving(self, port: int) -> bool:
        return port_answers("127.0.0.1", port)

    def stop(self) -> None:
        self.process.stop()


@dataclass
class PrometheusServer:
    """Prometheus with a private TSDB, 1 s scrapes, file-based targets it re-reads."""

    directory: Path
    process: DaemonProcess
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls, directory: Path, port: int, targets_file: Path, scrape_interval_s: float = 1.0
    ) -> PrometheusServer:
        binary = find_binary("prometheus", "prometheus")
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "prometheus.yml"
        config.write_text(
            "global:\n"
            f"  scrape_interval: {int(scrape_interval_s * 1000)}ms\n"
            f"  evaluation_interval: {int(scrape_interval_s * 1000)}ms\n"
            "scrape_configs:\n"
            "  - job_name: shipdeck\n"
            f"    scrape_interval: {int(scrape_interval_s * 1000)}ms\n"
            f"    scrape_timeout: {int(max(0.5, scrape_interval_s * 0.8) * 1000)}ms\n"
            "    file_sd_configs:\n"
            f"      - files: ['{targets_file}']\n"
            "        refresh_interval: 1s\n"
        )
        if not targets_file.exists():
            targets_file.write_text("[]\n")
        process = DaemonProcess.start(
            "prometheus",
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=2h",
            ],
            directory / "prometheus.log",
        )
        process.wait_ready(lambda: port_answers("127.0.0.1", port), "listening", 30.0)
        return cls(directory, process, port)

    def stop(self) -> None:
        self.process.stop()


def stop_pid_file(pid_file: Path) -> None:
    """Stop a daemon recorded in a pid file (used by ``demo --down`` from another process)."""
    with contextlib.suppress(OSError, ValueError):
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)


__all__ = ["NginxEdge", "PrometheusServer", "RigUnavailable", "stop_pid_file"]
