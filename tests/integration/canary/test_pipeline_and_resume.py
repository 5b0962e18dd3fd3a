"""The CI pipeline stops a bad image at the canary; an interrupted canary resumes or aborts cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import pytest

from console.core.ops.bluegreen import DeployRequest, deploy_blue_green
from console.core.ops.pipeline import pipeline
from console.core.store import open_store
from console.demo.rig.daemons import free_port
from engines.http import http_get
from tests.integration.canary.test_canary_rollouts import load
from tests.integration.conftest import live_release

pytestmark = pytest.mark.rig


def nested_plans(plan: list[str]) -> dict[str, list[str]]:
    """The pipeline dry run's per-stage deploy plans, by environment."""
    plans: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in plan:
        if line.startswith("  ") and current is not None:
            current.append(line.strip())
        elif line.startswith(("staging:", "production:")):
            current = plans.setdefault(line.split(":")[0], [])
        else:
            current = None
    return plans


def add_staging(stack) -> None:
    with stack.editing_config() as document:
        service = document["services"]["web"]
        service["environments"] = {
            "staging": {
                "listen": f"127.0.0.1:{free_port()}",
                "preview_listen": f"127.0.0.1:{free_port()}",
                "base_port": service["base_port"] + 5,
                "protected": False,
            },
            "production": {},
        }


async def test_pipeline_stops_a_bad_image_at_the_canary_and_both_environments_keep_the_previous_release(
    canary_stack,
):
    add_staging(canary_stack)
    op = canary_stack.context()
    for environment in ("staging", "production"):
        result = await deploy_blue_green(op, DeployRequest("web", environment, "v1", verify_s=1.0))
        assert result.outcome == "succeeded", result.reason
    dry = await pipeline(op, "web", "v3", dry_run=True)
    async with load(canary_stack.listen_port, rate_per_s=600):
        await asyncio.sleep(3)
        result = await pipeline(op, "web", "v3")
    assert (
        result.outcome == "failed" and result.stage == "production-canary" and result.exit_code == 1
    )
    assert [s["stage"] for s in result.stages][:2] == ["staging", "production-canary"]
    assert live_release(op, "staging") == "v1" and live_release(op, "production") == "v1"
    # Each stage ran the plan the dry run printed for it.
    nested = nested_plans(dry.plan)
    for environment, steps in nested.items():
        deployment = next(
            d
            for d in op.store.history("web", limit=20)
            if d.environment == environment
            and d.kind == "deploy"
            and d.to_release is not None
            and op.store.release(d.to_release).name == "v3"
        )
        assert op.store.events(deployment.id)[0].data["plan"]["steps"] == steps
    await op.fleet.close()


async def interrupted_canary(stack):
    # 5% errors in both arms, so the resumed analysis can prove "no worse" within its steps;
    # verification must not trip on the 5%
    stack.update_service(env={"ERROR_RATE": "0.05"}, max_error_rate=0.25)
    op = stack.context()
    result = await deploy_blue_green(op, DeployRequest("web", "production", "v1", verify_s=1.0))
    assert result.outcome == "succeeded", result.reason
    await op.fleet.close()
    process = stack.start_shipdeck("deploy", "web", "v2", "--yes", "--json")
    store = open_store(stack.state_path)
    try:
        for _ in range(600):
            running = store.in_progress("web", "production")
            if running and str(running[-1].step or "").startswith("analysis"):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the canary never reached its analysis")
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    await asyncio.sleep(2.5)  # the lock lease lapses
    return store


async def answering(stack) -> str | None:
    response = await http_get("127.0.0.1", stack.listen_port, "/version", timeout_s=5)
    return response.headers.get("x-shipdeck-release") if response.status == 200 else None


async def test_kill_9_mid_rollout_then_abort_returns_everything_to_the_baseline(canary_stack):
    async with load(canary_stack.listen_port):
        store = await interrupted_canary(canary_stack)
        dry = await asyncio.to_thread(
            canary_stack.shipdeck, "abort", "web", "--dry-run", "--json", timeout_s=120
        )
        result = await asyncio.to_thread(
            canary_stack.shipdeck, "abort", "web", "--yes", "--json", timeout_s=300
        )
    assert dry.returncode == 0 and result.returncode == 0, result.stdout + result.stderr
    traffic = store.traffic("web", "production")
    assert traffic.canary_release is None and store.in_progress("web", "production") == []
    assert await answering(canary_stack) == "v1"
    # The abort ran the plan its dry run printed.
    abort = next(d for d in store.history("web", limit=5) if d.kind == "abort")
    recorded = store.events(abort.id)[0].data["plan"]["steps"]
    assert recorded == json.loads(dry.stdout)["plan"]


async def test_kill_9_mid_rollout_then_resume_finishes_the_rollout(canary_stack):
    async with load(canary_stack.listen_port):
        store = await interrupted_canary(canary_stack)
        result = await asyncio.to_thread(
            canary_stack.shipdeck, "deploy", "--resume", "web", "--yes", "--json", timeout_s=300
        )
    summary = json.loads(result.stdout.splitlines()[-1])
    assert result.returncode == 0 and summary["outcome"] == "succeeded", (
        result.stdout[-2000:] + result.stderr
    )
    assert store.in_progress("web", "production") == []
    assert await answering(canary_stack) == "v2"
