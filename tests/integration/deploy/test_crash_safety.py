"""`kill -9` at any step of a deploy: status shows it, rollback finishes it, nothing is orphaned."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from console.core.ops.bluegreen import DeployRequest, deploy_blue_green
from console.core.store import open_store
from engines.http import http_get

pytestmark = pytest.mark.rig

STEPS = ("starting", "smoke", "swapping", "verifying")


def wait_for_step(stack, step: str, timeout_s: float = 90) -> None:
    store = open_store(stack.state_path)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        running = store.in_progress("web", "production")
        if running and running[-1].step == step:
            return
        time.sleep(0.005)
    raise AssertionError(f"the deploy never reached step {step}")


async def serving_release(stack) -> str | None:
    response = await http_get("127.0.0.1", stack.listen_port, "/", timeout_s=5)
    assert response.status == 200
    return response.headers.get("x-shipdeck-release")


def slow_smoke_tests(stack) -> None:
    """Smoke checks normally take milliseconds: too short for a poller to catch reliably."""
    stack.update_service(
        env={"ERROR_RATE": "0", "EXTRA_LATENCY_MS": "250"},
        smoke=[{"path": "/", "status": 200}] * 4,
    )


async def kill_9_during(stack, step: str) -> None:
    """v1 live, then a v2 deploy process killed with SIGKILL once it records ``step``."""
    if step == "smoke":
        slow_smoke_tests(stack)
    op = stack.context()
    assert (
        await deploy_blue_green(op, DeployRequest("web", "production", "v1"))
    ).outcome == "succeeded"
    await op.fleet.close()
    deploy = stack.start_shipdeck("deploy", "web", "v2", "--yes", "--json", "--verify", "20")
    try:
        wait_for_step(stack, step)
    finally:
        os.kill(deploy.pid, signal.SIGKILL)
        deploy.wait()
    time.sleep(2.5)  # the lock lease (2 s) lapses without a heartbeat


@pytest.mark.parametrize("step", STEPS)
async def test_kill_9_during_a_step_then_rollback_ends_on_a_healthy_release(stack, step):
    await kill_9_during(stack, step)
    status = json.loads(stack.shipdeck("status", "web", "--json").stdout)["services"][0]
    assert status["in_progress"]["step"] == step and status["in_progress"]["interrupted"] is True
    result = stack.shipdeck("rollback", "web", "--yes", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert await serving_release(stack) == "v1"
    store = open_store(stack.state_path)
    assert store.in_progress("web", "production") == []
    names = {
        c.name
        for c in stack.rig.docker_client().containers.list(
            all=True, filters={"label": "shipdeck.service=web"}
        )
    }
    slots = {name.rsplit("-", 1)[-1] for name in names}
    # v1 serves from its color; a v2 container may stay only as the (stopped-traffic) standby, never orphaned elsewhere
    assert slots <= {"blue", "green"}


async def test_deploy_resume_completes_an_interrupted_deployment(stack):
    await kill_9_during(stack, "smoke")
    result = stack.shipdeck("deploy", "--resume", "web", "--yes", "--json", "--verify", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert await serving_release(stack) == "v2"
