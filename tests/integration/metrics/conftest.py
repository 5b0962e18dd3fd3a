"""Rig for the metrics integration tests: demo-app instances, bounded traffic,
and a real Prometheus scraping them, all on 127.0.0.1.

Instances are local processes for now; ``demo_instances`` is the one place to
switch to containers when the Docker rig lands.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from console.demo.rig.daemons import free_port
from tests.require import missing, need_binary

REPO = Path(__file__).resolve().parents[3]
DEMO_APP = REPO / "console" / "demo" / "app" / "app.py"
HOST = "127.0.0.1"
START_TIMEOUT_S = 15.0


def wait_http(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # loopback
                if response.status == 200:
                    return
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout_s:g}s: {last}")


@dataclass(frozen=True)
class Instance:
    service: str
    track: str
    host: str
    port: int
    process: subprocess.Popen

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def demo_instances() -> Iterator:
    """``start(service, baseline_env, canary_env)`` → [baseline, canary]
    instances of the demo app, stopped at teardown (``stop(instance)`` stops
    one early, e.g. to make its metrics unreachable)."""
    started: list[subprocess.Popen] = []

    def start(service: str, baseline_env: dict, canary_env: dict) -> list[Instance]:
        out = []
        for track, extra in (("baseline", baseline_env), ("canary", canary_env)):
            port = free_port()
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "VERSION": f"{service}-{track}",
                "PORT": str(port),
                **{k: str(v) for k, v in extra.items()},
            }
            process = subprocess.Popen(
                [sys.executable, str(DEMO_APP)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            started.append(process)
            out.append(Instance(service, track, HOST, port, process))
        for instance in out:
            wait_http(f"http://{instance.address}/healthz", START_TIMEOUT_S)
        return out

    start.stop = lambda instance: _stop(instance.process)  # type: ignore[attr-defined]
    yield start
    for process in started:
        _stop(process)


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen

    def stop(self) -> None:
        _stop(self.process)


@pytest.fixture(scope="module")
def prometheus_for(tmp_path_factory) -> Iterator:
    """``start(instances)`` → a Prometheus scraping them every second, one job
    per service, each target labelled with its ``track``."""
    binary = need_binary("prometheus")
    running: list[Prometheus] = []

    def start(instances: list[Instance]) -> Prometheus:
        workdir = tmp_path_factory.mktemp("prometheus")
        jobs: dict[str, list[Instance]] = {}
        for instance in instances:
            jobs.setdefault(instance.service, []).append(instance)
        lines = ["global:", "  scrape_interval: 1s", "  scrape_timeout: 1s", "scrape_configs:"]
        for service, members in jobs.items():
            lines += [f"  - job_name: {service}", "    static_configs:"]
            for m in members:
                lines += [
                    f"      - targets: ['{m.address}']",
                    f"        labels: {{track: {m.track}}}",
                ]
        config = workdir / "prometheus.yml"
        config.write_text("\n".join(lines) + "\n")
        port = free_port()
        log = (workdir / "prometheus.log").open("w")
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address={HOST}:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=log,
        )
        prom = Prometheus(f"http://{HOST}:{port}", process)
        running.append(prom)
        try:
            wait_http(f"{prom.url}/-/ready", START_TIMEOUT_S)
        except TimeoutError as exc:
            prom.stop()
            missing("prometheus", f"did not start: {exc}; log: {workdir / 'prometheus.log'}")
        return prom

    yield start
    for prom in running:
        prom.stop()


class Traffic:
    """Keep-alive GET / against instances at a bounded rate, until a deadline.

    ``rate_per_instance`` requests/s, spread over a few threads per instance
    (one slow request must not starve the rate); stops at ``stop()`` or at
    ``max_seconds``, whichever comes first, and never exceeds ``max_requests``
    per thread.
    """

    THREADS_PER_INSTANCE = 3

    def __init__(self, instances, rate_per_instance: float, max_seconds: float) -> None:
        self.instances = instances
        self.period_s = self.THREADS_PER_INSTANCE / rate_per_instance
        self.deadline = time.monotonic() + max_seconds
        self.max_requests = int(rate_per_instance * max_seconds) + 1
        self._stop = threading.Event()
        self.sent = 0
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._loop, args=(i,), daemon=True)
            for i in instances
            for _ in range(self.THREADS_PER_INSTANCE)
        ]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _loop(self, instance) -> None:
        conn = None
        next_at = time.monotonic()
        for _ in range(self.max_requests):
            if self._stop.is_set() or time.monotonic() > self.deadline:
                break
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(instance.host, instance.port, timeout=2)
                conn.request("GET", "/")
                conn.getresponse().read()
                with self._lock:
                    self.sent += 1
            except (OSError, http.client.HTTPException):
                with contextlib.suppress(Exception):
                    conn.close()  # type: ignore[union-attr]
                conn = None
                self._stop.wait(0.05)
            next_at += self.period_s
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_at = time.monotonic()
        if conn is not None:
            conn.close()


@pytest.fixture
def traffic():
    return Traffic
