"""The console's costs: cold start, History over a million events, Overview CPU at 1 Hz.

    .venv/bin/python bench/bench_tui.py [--json] [--seconds S] [--runs N]

* ``cold start``   — a fresh ``python`` process: imports, config, store, app,
  first painted frame (headless driver), as the median of ``--runs`` runs.
  Target: under 1 s.
* ``open History`` — a temporary SQLite store with 10,000 deployments and
  1,000,000 events (bulk-inserted as in ``test_state_store.py``): time from
  pressing ``3`` to the first page painted, and the store read alone.
  Target: instant (well under 0.1 s for the read).
* ``Overview CPU`` — 50 services × 2 environments on 20 hosts (100 rows, a
  host view of 2,000 containers), polled at 1 Hz for ``--seconds``; CPU time
  of the whole process (all threads) over wall time. Target: under 10% of
  one core. Hosts are not reachable here, so the host probe answers a fixed
  view instantly (the probe's own cost is measured by bench_hosts.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SERVICES = 50
HOSTS = 20
NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
CPU_TARGET = 0.10
COLD_TARGET_S = 1.0


def write_config(directory: Path, services: int = SERVICES, hosts: int = HOSTS) -> Path:
    """A config with ``services`` services, each in staging and production on ``hosts`` hosts."""
    lines = ['flags_path = "flags.toml"', 'state_path = "state.db"', ""]
    for h in range(1, hosts + 1):
        lines += [
            f"[hosts.h{h:02d}]",
            f'address = "ssh://deploy@10.255.0.{h}:22"',
            'known_hosts = "/nonexistent/known_hosts"',
            "connect_timeout_s = 1",
            "",
        ]
    lines += ["[load_balancers.edge]", 'kind = "nginx"', ""]
    host_list = ", ".join(f'"h{h:02d}"' for h in range(1, hosts + 1))
    for s in range(services):
        lines += [
            f"[services.svc{s:02d}]",
            f'image = "registry.example.com/svc{s:02d}"',
            f"hosts = [{host_list}]",
            'load_balancer = "edge"',
            f'listen = "0.0.0.0:{20000 + s * 10}"',
            f'preview_listen = "127.0.0.1:{20001 + s * 10}"',
            f"base_port = {30000 + s * 10}",
            'strategy = "canary"',
            "",
            f"[services.svc{s:02d}.environments.staging]",
            f'listen = "0.0.0.0:{40000 + s * 10}"',
            f'preview_listen = "127.0.0.1:{40001 + s * 10}"',
            f"base_port = {50000 + s * 10}",
            "",
            f"[services.svc{s:02d}.environments.production]",
            "protected = true",
            "",
        ]
    path = directory / "shipdeck.toml"
    path.write_text("\n".join(lines))
    return path


def seed_store(config: Any, store: Any) -> None:
    """Three releases per target, traffic, one finished deployment; every 10th canary running."""
    from console.core.store import TrafficRecord

    for name, service in sorted(config.services.items()):
        for env in service.environments:
            ids = []
            for v in (1, 2, 3):
                release = store.record_release(
                    name, env, f"{service.image}@sha256:{v:064x}", f"v{v}", NOW
                )
                store.mark_release(
                    release.id, NOW - timedelta(hours=4 - v), live=True, healthy=True
                )
                ids.append(release.id)
            store.set_traffic(TrafficRecord(name, env, "blue", ids[2], ids[1], None, 0, NOW))
            done = store.start_deployment(
                name, env, "blue-green", "deploy", ids[1], ids[2], "ann", NOW
            )
            store.finish_deployment(done, "succeeded", None, NOW)
            if name.endswith("0") and env == "production":
                store.start_deployment(
                    name,
                    env,
                    "canary",
                    "deploy",
                    ids[2],
                    ids[2],
                    "ann",
                    NOW,
                    {"steps": ["weight 5%", "weight 100%"], "step_index": 0, "weight_pct": 5},
                )


def host_view(config: Any) -> dict[str, dict[str, Any]]:
    view = {}
    for host in config.hosts:
        containers = [
            {
                "name": f"{service}-{color}",
                "service": service,
                "release": "v3" if color == "blue" else "v2",
                "color": color,
                "track": "",
                "state": "running",
                "health": "healthy",
            }
            for service in config.services
            for color in ("blue", "green")
        ]
        view[host] = {
            "reachable": True,
            "error": None,
            "docker_version": "27",
            "containers": containers,
        }
    return view


def build(directory: Path, clock_frozen: bool = False) -> tuple[Any, Any]:
    """The real app over the generated config and store; hosts answer a fixed view."""
    from console.core.clock import Clock, operator_identity
    from console.core.config import load_config
    from console.core.store import open_store
    from console.tui.app import ShipdeckApp
    from console.tui.data import StoreConsoleData
    from console.tui.ops import CoreOps

    config = load_config(directory / "shipdeck.toml")
    store = open_store(config.state_path)
    clock = Clock(frozen_at=NOW if clock_frozen else None)
    view = host_view(config)

    class FixedHosts(StoreConsoleData):
        """Real store and config; the fleet answers instantly (no hosts here)."""

        async def hosts(self) -> dict[str, dict[str, Any]]:
            return view

    data = FixedHosts(config, store, clock)
    ops = CoreOps(
        config,
        store,
        clock,
        operator_identity(),
        config_path=config.path,
        state_path=config.state_path,
    )
    return ShipdeckApp(data, ops, read_only=True), store


# -- cold start -------------------------------------------------------------------------------

CHILD = """
import time, sys, argparse
sys.path.insert(0, {root!r})
from console.tui.app import build_app
app, close = build_app(argparse.Namespace(config={config!r}, state={state!r}, read_only=True))
frames = []
display = app._display
def timed_display(screen, renderable):  # every frame the compositor paints goes through here
    display(screen, renderable)
    if renderable is not None:
        frames.append((time.time(), bool(app.statuses)))
async def report(pilot):
    while not any(with_data for _, with_data in frames):
        await pilot.pause(0.01)
    first = frames[0][0]
    data = next(t for t, with_data in frames if with_data)
    print(first, data, flush=True)
    app.exit()
app._display = timed_display
app.run(headless=True, size=(120, 40), auto_pilot=report)
close()
"""


def cold_start(directory: Path, runs: int) -> tuple[list[float], list[float]]:
    """Seconds from spawning ``python`` to the first frame, and to the first frame with data."""
    config = directory / "shipdeck.toml"
    code = CHILD.format(root=str(ROOT), config=str(config), state=str(directory / "state.db"))
    first_frames, data_frames = [], []
    for _ in range(runs):
        spawned = time.time()
        child = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            cwd=directory,
            timeout=60,
        )
        if child.returncode != 0 or not child.stdout.strip():
            raise RuntimeError(f"the console did not paint: {child.stderr[-2000:]}")
        first, data = (float(x) for x in child.stdout.split())
        first_frames.append(first - spawned)
        data_frames.append(data - spawned)
    return first_frames, data_frames


# -- history over a million events --------------------------------------------------------------


def big_store(path: Path) -> None:
    from console.core.store import open_store

    open_store(path).close()
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO deployments (id, service, environment, strategy, operator, started_at, outcome)"
            " VALUES (?, 'svc00', 'production', 'canary', 'ann', ?, 'succeeded')",
            ((i, (NOW + timedelta(seconds=i)).isoformat()) for i in range(1, 10_001)),
        )
        db.executemany(
            "INSERT INTO events (deployment_id, ts, kind, message) VALUES (?, ?, 'weight', 'weight set')",
            ((1 + i % 10_000, NOW.isoformat()) for i in range(1_000_000)),
        )
    db.close()


async def open_history(directory: Path) -> dict[str, float]:
    from console.tui.screens.history import HistoryScreen

    app, store = build(directory, clock_frozen=True)
    started = time.perf_counter()
    store.history(limit=100)
    read_s = time.perf_counter() - started
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.statuses:
            await pilot.pause(0.05)
        started = time.perf_counter()
        await pilot.press("3")
        while True:  # the first page shown (show() runs right after the fetch is marked ok)
            screen = app.screen
            if isinstance(screen, HistoryScreen) and screen.freshness.last_ok is not None:
                break
            await pilot.pause(0.005)
        await pilot.pause()
        shown_s = time.perf_counter() - started
    store.close()
    return {"store_read_s": read_s, "press_to_painted_s": shown_s}


# -- overview CPU -------------------------------------------------------------------------------


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def overview_cpu(directory: Path, seconds: float) -> dict[str, float]:
    app, store = build(directory)
    async with app.run_test(size=(160, 50)) as pilot:
        while not (app.statuses and app.hosts_view):
            await pilot.pause(0.05)
        await pilot.pause(2.0)  # first paint and first host view done
        wall, cpu = time.perf_counter(), cpu_seconds()
        await asyncio.sleep(seconds)
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
        rows = len(app.statuses)
    store.close()
    return {"rows": rows, "cpu_fraction": cpu / wall, "seconds": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--seconds", type=float, default=20.0, help="CPU measurement window")
    parser.add_argument("--runs", type=int, default=5, help="cold start runs")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-tui-") as tmp:
        work = Path(tmp)
        fleet = work / "fleet"
        fleet.mkdir()
        config_path = write_config(fleet)
        from console.core.config import load_config
        from console.core.store import open_store

        config = load_config(config_path)
        store = open_store(config.state_path)
        seed_store(config, store)
        store.close()

        first, data = cold_start(fleet, args.runs)
        results["cold_start_s"] = {
            "median": statistics.median(first),
            "runs": first,
            "with_data_median": statistics.median(data),
        }

        big = work / "big"
        big.mkdir()
        write_config(big, services=1, hosts=1)
        started = time.perf_counter()
        big_store(big / "state.db")
        results["history_store_build_s"] = time.perf_counter() - started
        results["history"] = asyncio.run(open_history(big))
        empty = work / "empty"
        empty.mkdir()
        write_config(empty, services=1, hosts=1)
        results["history_empty_store"] = asyncio.run(open_history(empty))

        results["overview"] = asyncio.run(overview_cpu(fleet, args.seconds))
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    cold = results["cold_start_s"]["median"]
    cold_data = results["cold_start_s"]["with_data_median"]
    history = results["history"]
    overview = results["overview"]
    print(
        f"cold start to first frame   {cold:.3f} s median of {args.runs}  (target < {COLD_TARGET_S:.0f} s)"
        f"  {'OK' if cold < COLD_TARGET_S else 'OVER'}; with the store's 100 rows {cold_data:.3f} s"
    )
    empty = results["history_empty_store"]
    print(
        f"History, 1,000,000 events   store read {history['store_read_s'] * 1000:.1f} ms,"
        f" key press to painted {history['press_to_painted_s'] * 1000:.0f} ms"
        f" (empty store: {empty['press_to_painted_s'] * 1000:.0f} ms — the screen's first"
        " compose, not the data)"
    )
    print(
        f"Overview at 1 Hz            {overview['rows']} rows × {HOSTS} hosts:"
        f" {overview['cpu_fraction'] * 100:.1f}% of one core over {overview['seconds']:.0f} s"
        f"  (target < {CPU_TARGET * 100:.0f}%)  {'OK' if overview['cpu_fraction'] < CPU_TARGET else 'OVER'}"
    )
    print(
        f"(machine: {os.cpu_count()} CPUs; the 1M-event store took {results['history_store_build_s']:.1f} s to build)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
