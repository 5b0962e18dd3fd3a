"""The demo's scenarios: real deploys under real, bounded loopback traffic.

- ``bluegreen``: deploy v1, then v2 blue-green under steady traffic, then roll back to v1.
- ``good``: a canary of v2 (healthy) through every step to 100%.
- ``bad``: a canary of v3 (2-3x the error rate, extra latency): the judge must roll it back.

Every scenario first seeds history with a real blue-green deploy of v1. The
last event is always the summary; ``requests``/``failed_requests`` are what the
traffic generator saw through the LB during the whole scenario.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from console.core.clock import Clock, operator_identity
from console.core.config import load_config
from console.core.fleet import Fleet
from console.core.ops.bluegreen import DeployRequest, deploy_blue_green
from console.core.ops.canary import CanaryRequest, deploy_canary
from console.core.ops.context import OpContext
from console.core.ops.releases import live_release
from console.core.ops.rollback import rollback
from console.core.store import open_store
from console.demo.environment import DemoEnvironment
from engines.loadgen import LoadStats, run_load

SCENARIOS = ("bluegreen", "good", "bad")
TRAFFIC_RATE_PER_S = 250.0
TRAFFIC_MAX_S = 900.0  # the generator stops by itself after 15 minutes at the latest

Emit = Callable[..., None]


class Traffic:
    """Steady background traffic through the LB, bounded in time and count."""

    def __init__(self, port: int, rate_per_s: float = TRAFFIC_RATE_PER_S) -> None:
        self.port = port
        self.rate_per_s = rate_per_s
        self.stats = LoadStats()
        self.stop_event = asyncio.Event()
        self.task: asyncio.Task[LoadStats] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(
            run_load(
                "127.0.0.1",
                self.port,
                duration_s=TRAFFIC_MAX_S,
                max_requests=int(TRAFFIC_MAX_S * self.rate_per_s * 1.2),
                rate_per_s=self.rate_per_s,
                concurrency=8,
                stats=self.stats,
                stop=self.stop_event,
            )
        )

    async def stop(self) -> LoadStats:
        self.stop_event.set()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        return self.stats


def make_context(env: DemoEnvironment, emit: Emit) -> OpContext:
    config = load_config(env.config_path)

    def listener(event: str, message: str, fields: dict[str, Any]) -> None:
        emit(event, message=message, **{k: v for k, v in fields.items() if k != "ts"})

    return OpContext(
        config=config,
        store=open_store(config.state_path),
        clock=Clock(),
        operator=operator_identity(),
        fleet=Fleet(config),
        listeners=[listener],
    )


async def seed(op: OpContext, env: DemoEnvironment, emit: Emit) -> None:
    """A real first deploy (v1, blue-green), so there is a live baseline and history."""
    env.update_prometheus_targets()
    result = await deploy_blue_green(op, DeployRequest("web", "production", "v1", verify_s=2.0))
    if result.outcome != "succeeded":
        raise RuntimeError(
            f"seeding the demo failed: deploy of v1 {result.outcome}: {result.reason}"
        )


async def run_scenario(
    env: DemoEnvironment, scenario: str, emit: Emit
) -> tuple[dict[str, Any], int]:
    """Run one scenario; returns (summary, exit code: 0 when it ended as designed)."""
    op = make_context(env, emit)
    traffic = Traffic(env.listen_port)
    outcome, reason, rollback_s = "failed", None, None
    designed = False
    try:
        await seed(op, env, emit)
        traffic.start()
        await asyncio.sleep(3.0)  # let the baseline build some history
        if scenario == "bluegreen":
            result = await deploy_blue_green(
                op, DeployRequest("web", "production", "v2", verify_s=3.0)
            )
            if result.outcome != "succeeded":
                reason = f"deploy of v2 {result.outcome}: {result.reason}"
            else:
                await asyncio.sleep(3.0)
                back = await rollback(op, "web", "production", "v1")
                rollback_s = round(back.duration_s, 3)
                outcome = "rolled_back" if back.outcome == "succeeded" else "failed"
                reason = back.reason or "rolled back to v1 as designed"
                designed = back.outcome == "succeeded"
        else:
            image = "v2" if scenario == "good" else "v3"
            canary_traffic_at: list[float] = []

            def watch(event: str, message: str, fields: dict[str, Any]) -> None:
                if event == "weight_set" and not canary_traffic_at:
                    canary_traffic_at.append(time.monotonic())

            op.listeners.append(watch)
            result = await deploy_canary(op, CanaryRequest("web", "production", image))
            if result.outcome == "succeeded":
                outcome, reason = "promoted", f"canary {image} promoted to 100%"
            elif result.outcome == "rolled_back":
                outcome, reason = "rolled_back", result.reason
                if canary_traffic_at:
                    rollback_s = round(time.monotonic() - canary_traffic_at[0], 3)
            else:
                outcome, reason = "failed", result.reason
            designed = outcome == ("promoted" if scenario == "good" else "rolled_back")
        await asyncio.sleep(1.0)
    except Exception as error:  # the summary must always be printed
        reason = f"{type(error).__name__}: {error}"
        outcome = "failed"
    finally:
        stats = await traffic.stop()
        live = live_release(op.store, op.store.traffic("web", "production"))
        await op.fleet.close()
    summary = {
        "scenario": scenario,
        "outcome": outcome,
        "reason": reason,
        "requests": stats.requests,
        "failed_requests": stats.failed,
        "rollback_s": rollback_s,
        "live_release": live.name if live else None,
        "by_release": dict(stats.by_release),
        "by_status": dict(stats.by_status),
    }
    return summary, (0 if designed else 1)
