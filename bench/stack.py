"""A real deploy target for benchmarks: the rig (2 SSH hosts, registry), a private nginx,
optionally Prometheus, and a config pointing at them — the same pieces the integration
tests use, started from plain Python."""

from __future__ import annotations

import contextlib
import random
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.core.clock import Clock
from console.core.config import load_config
from console.core.fleet import Fleet
from console.core.ops.context import OpContext
from console.core.store import open_store
from console.demo.rig.daemons import free_port
from console.demo.rig.edge import NginxEdge, PrometheusServer
from console.demo.rig.rig import Rig
from tests.integration.conftest import CANARY_TEMPLATE, write_stack_config, write_targets


@dataclass
class BenchStack:
    config_path: Path
    listen_port: int
    rig: Rig

    def context(self) -> OpContext:
        config = load_config(self.config_path)
        return OpContext(config, open_store(config.state_path), Clock(), "bench", Fleet(config), [])


@contextlib.contextmanager
def bench_stack(*, canary: bool = False, **service: Any) -> Iterator[BenchStack]:
    workdir = Path(tempfile.mkdtemp(prefix="shipdeck-bench-"))
    rig = Rig.start(n_hosts=2, workdir=workdir / "rig")
    nginx = prometheus = None
    try:
        nginx = NginxEdge.start(workdir / "nginx")
        listen = free_port()
        base_port = random.randrange(20000, 40000, 10)
        extra: dict[str, Any] = {}
        if canary:
            targets = workdir / "targets.json"
            write_targets(targets, rig, base_port)
            prometheus = PrometheusServer.start(workdir / "prometheus", free_port(), targets)
            extra = {
                "analysis": {"bench": CANARY_TEMPLATE},
                "metrics": {
                    "prometheus_url": prometheus.url,
                    "scrape_interval_s": 1,
                    "query_timeout_s": 2,
                },
            }
            service = {
                "strategy": "canary",
                "analysis": "bench",
                "env": {},
                "smoke": [{"path": "/healthz", "status": 200}],
                "canary_steps": [
                    {"weight": 5},
                    {"analysis": "bench", "duration": "120s"},
                    {"weight": 100},
                ],
                **service,
            }
        config_path = workdir / "shipdeck.toml"
        write_stack_config(
            config_path,
            rig,
            nginx,
            workdir / "state.db",
            listen,
            base_port,
            extra_document=extra,
            **service,
        )
        yield BenchStack(config_path, listen, rig)
    finally:
        for component in (prometheus, nginx):
            if component is not None:
                with contextlib.suppress(Exception):
                    component.stop()
        rig.stop()
        shutil.rmtree(workdir, ignore_errors=True)
