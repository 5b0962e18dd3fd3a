"""Rollback speed: command → 100% of requests on the previous release, under load.

    .venv/bin/python bench/bench_rollback.py [--swaps N]

Warm (the previous color still runs it: a swap only) and cold (started from the
stored digest, health-checked, swapped), each with the failed requests seen by a
client during it. The baseline measured in the same run is the bare LB apply
(render, validate, reload, verify) — the floor under any rollback.
Targets: warm p95 < 1 s, cold < 15 s, 0 failed requests.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stack import bench_stack  # noqa: E402
from console.core.ops.bluegreen import DeployRequest, deploy_blue_green  # noqa: E402
from console.core.ops.rollback import rollback  # noqa: E402
from engines.loadgen import LoadStats, run_load  # noqa: E402


def time_to_all_on(stats: LoadStats, release: str, started: float) -> float | None:
    """Seconds from ``started`` until every later response came from ``release``."""
    last_other = started
    seen = False
    for t, served_by, _ in stats.recent:
        if t < started:
            continue
        seen = True
        if served_by != release:
            last_other = t
    return (last_other - started) if seen else None


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def measure(stack, swaps: int) -> dict:
    op = stack.context()
    for image in ("v1", "v2"):
        result = await deploy_blue_green(
            op, DeployRequest("web", "production", image, verify_s=0.5)
        )
        assert result.outcome == "succeeded", result.reason
    stats = LoadStats()
    stop = asyncio.Event()
    load = asyncio.create_task(
        run_load(
            "127.0.0.1",
            stack.listen_port,
            duration_s=600,
            max_requests=400_000,
            rate_per_s=200,
            concurrency=8,
            stop=stop,
            stats=stats,
        )
    )
    await asyncio.sleep(1.0)
    warm, lb_only = [], []
    failed_before = stats.failed
    target, other = "v1", "v2"
    for _ in range(swaps):
        started = time.monotonic()
        result = await rollback(op, "web", "production", target)
        assert result.outcome == "succeeded" and result.mode == "warm", result
        await asyncio.sleep(0.6)
        warm.append(time_to_all_on(stats, target, started) or result.duration_s)
        target, other = other, target
    warm_failed = stats.failed - failed_before
    # the floor: the LB apply alone, measured by the writer itself on each swap
    lb_only = [
        float(e.data.get("duration_s", 0))
        for d in op.store.history("web", limit=swaps)
        for e in op.store.events(d.id)
        if e.kind == "traffic"
    ]
    # cold: v3 replaces the standby color, so the previous release must be started again
    cold, cold_failed = [], 0
    for _ in range(3):
        live = "v1"
        # two deploys push v1 out of both colors: it is cold
        for image in ("v3", "v4"):
            await deploy_blue_green(op, DeployRequest("web", "production", image, verify_s=0.5))
        failed_before = stats.failed
        started = time.monotonic()
        result = await rollback(op, "web", "production", live)
        assert result.outcome == "succeeded" and result.mode == "cold", result
        await asyncio.sleep(0.6)
        cold.append(time_to_all_on(stats, live, started) or result.duration_s)
        cold_failed += stats.failed - failed_before
    stop.set()
    await load
    await op.fleet.close()
    return {
        "warm": warm,
        "warm_failed": warm_failed,
        "cold": cold,
        "cold_failed": cold_failed,
        "lb": lb_only,
        "requests": stats.requests,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swaps", type=int, default=20)
    args = parser.parse_args(argv)
    with bench_stack() as stack:
        r = asyncio.run(measure(stack, args.swaps))
    lb50, lb95 = statistics.median(r["lb"]), pct(r["lb"], 0.95)
    w50, w95 = statistics.median(r["warm"]), pct(r["warm"], 0.95)
    c50, cmax = statistics.median(r["cold"]), max(r["cold"])
    print(f"requests through the LB during the run: {r['requests']}")
    print(f"{'':28}{'p50':>9}{'p95/max':>10}{'vs LB apply p50':>18}{'failed':>8}")
    print(f"{'LB apply alone (baseline)':28}{lb50:9.3f}{lb95:10.3f}{1.0:17.1f}x{'':>8}")
    print(f"{'rollback, warm':28}{w50:9.3f}{w95:10.3f}{w50 / lb50:17.1f}x{r['warm_failed']:8}")
    print(f"{'rollback, cold':28}{c50:9.3f}{cmax:10.3f}{c50 / lb50:17.1f}x{r['cold_failed']:8}")
    ok = w95 < 1.0 and cmax < 15.0 and r["warm_failed"] == 0 and r["cold_failed"] == 0
    print("targets (warm p95 < 1 s, cold < 15 s, 0 failed):", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
