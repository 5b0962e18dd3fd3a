"""Time from a bad canary receiving traffic to traffic fully back on the baseline.

    .venv/bin/python bench/bench_canary.py [--runs N]

shipdeck's judge (anytime-valid, checked at every 1 s scrape) against, in the
same run on the same rig, an Argo-style fixed-window threshold check: compare
the canary's error rate to a threshold at the end of a 60 s window, then roll
back. Both at 5% weight; the bad release (v3) fails 3x as often as v1.
Target: shipdeck under 60 s.
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
from console.core.ops import releases as rel  # noqa: E402
from console.core.ops.bluegreen import DeployRequest, deploy_blue_green  # noqa: E402
from console.core.ops.canary import CanaryRequest, deploy_canary  # noqa: E402
from console.core.ops.instances import start_slot, stop_slot  # noqa: E402
from console.core.ops.rollout import apply_traffic, running_slots  # noqa: E402
from console.core.ops.verify import instance_counts  # noqa: E402
from engines.loadgen import LoadStats, run_load  # noqa: E402

ARGO_WINDOW_S = 60.0
ARGO_MAX_ERROR_RATE = 0.01  # a typical Argo AnalysisTemplate successCondition: result < 0.01


def back_on(stats: LoadStats, release: str, since: float) -> float:
    """The moment after which no response came from ``release``."""
    last = since
    for t, served_by, _ in stats.recent:
        if t >= since and served_by == release:
            last = t
    return last


async def shipdeck_run(stack, stats: LoadStats) -> float:
    op = stack.context()
    events: list[float] = []
    op.listeners.append(
        lambda e, m, f: events.append(time.monotonic()) if e == "weight_set" else None
    )
    result = await deploy_canary(op, CanaryRequest("web", "production", "v3"))
    assert result.outcome == "rolled_back", result.reason
    await asyncio.sleep(1.0)
    await op.fleet.close()
    return back_on(stats, "v3", events[0]) - events[0]


async def argo_run(stack, stats: LoadStats) -> float:
    op = stack.context()
    service = op.config.services["web"]
    env = service.environments["production"]
    traffic = op.store.traffic("web", "production")
    baseline = traffic.live_color
    canary = "green" if baseline == "blue" else "blue"
    image = await rel.resolve(op.fleet, env, rel.parse_image_argument(service, "v3"))
    await start_slot(op.fleet, service, env, canary, "v3", image, track="canary")
    slots = await running_slots(op, service, env)
    before = await instance_counts(op.fleet, env, canary)
    await apply_traffic(op, service, env, slots, baseline, 5, canary_slot=canary)
    started = time.monotonic()
    await asyncio.sleep(ARGO_WINDOW_S)
    after = await instance_counts(op.fleet, env, canary)
    requests = sum(after[h].requests - before[h].requests for h in after)
    errors = sum(after[h].errors - before[h].errors for h in after)
    assert requests and errors / requests > ARGO_MAX_ERROR_RATE, (
        "the threshold check should fail v3"
    )
    await apply_traffic(op, service, env, {baseline: slots[baseline]}, baseline)
    await stop_slot(op.fleet, service, env, canary)
    await asyncio.sleep(1.0)
    await op.fleet.close()
    return back_on(stats, "v3", started) - started


async def measure(stack, runs: int, rate_per_s: float) -> dict:
    op = stack.context()
    await deploy_blue_green(op, DeployRequest("web", "production", "v1", verify_s=0.5))
    await op.fleet.close()
    stats = LoadStats()
    stop = asyncio.Event()
    load = asyncio.create_task(
        run_load(
            "127.0.0.1",
            stack.listen_port,
            duration_s=1200,
            max_requests=600_000,
            rate_per_s=rate_per_s,
            concurrency=16,
            stop=stop,
            stats=stats,
        )
    )
    await asyncio.sleep(5.0)
    ours, argo = [], []
    for _ in range(runs):
        ours.append(await shipdeck_run(stack, stats))
        argo.append(await argo_run(stack, stats))
    stop.set()
    await load
    return {
        "shipdeck": ours,
        "argo": argo,
        "requests": stats.requests,
        "v3_served": stats.by_release.get("v3", 0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--rate", type=float, default=800.0, help="requests/s through the LB (loopback)"
    )
    args = parser.parse_args(argv)
    with bench_stack(canary=True) as stack:
        r = asyncio.run(measure(stack, args.runs, args.rate))
    ours, argo = statistics.median(r["shipdeck"]), statistics.median(r["argo"])
    print(
        f"bad canary (v3, 3x errors) at 5% weight, 1 s scrapes, {r['requests']} requests through the LB"
        f" at {args.rate:g}/s"
    )
    print(f"{'':36}{'median s':>10}{'max s':>8}")
    print(f"{'Argo-style 60 s window (baseline)':36}{argo:10.1f}{max(r['argo']):8.1f}")
    print(f"{'shipdeck anytime-valid judge':36}{ours:10.1f}{max(r['shipdeck']):8.1f}")
    print(f"ratio shipdeck / Argo-style: {ours / argo:.2f}x")
    ok = max(r["shipdeck"]) < 60
    print("target (shipdeck < 60 s):", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
