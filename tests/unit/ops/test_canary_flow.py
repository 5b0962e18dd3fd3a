"""The canary state machine against in-memory hosts, LB and a scripted metrics source."""

from __future__ import annotations

import asyncio
import dataclasses
import random

import pytest

from console.core.config import CanaryStep
from console.core.errors import Blocked
from console.core.judge import AnalysisTemplate
from console.core.ops import sampling
from console.core.ops.bluegreen import DeployRequest, deploy_blue_green
from console.core.ops.canary import CanaryRequest, deploy_canary, request_signal
from engines.metrics.records import ArmSample, IntervalSample
from tests.unit.ops.fakes import make_context

TEMPLATE = AnalysisTemplate.from_mapping(
    {
        "interval_s": 1,
        "alpha_pass": 0.1,
        "error_ratio_pass": 3.0,
        "latency_quantiles": [],
        "min_soak_s": 2,
        "min_canary_requests": 100,
        "traffic_min_expected_requests": 30,
    },
    "analysis.test",
)
STEPS = (
    CanaryStep(weight_pct=10),
    CanaryStep(analysis="test", duration_s=3.0),
    CanaryStep(weight_pct=50),
    CanaryStep(analysis="test", duration_s=3.0),
    CanaryStep(weight_pct=100),
)


class ScriptedSampler:
    """Per look: baseline and canary counts at the current weight, with the given error rates."""

    def __init__(self, canary_error_rate: float, weight, no_data: bool = False) -> None:
        self.rate = canary_error_rate
        self.weight = weight
        self.no_data = no_data
        self.rng = random.Random(1)
        self.looks = 0

    async def start(self):
        return None

    async def baseline_reference(self):
        return None

    async def sample(self):
        self.looks += 1
        if self.no_data:
            return IntervalSample(
                self.looks, 1.0, None, None, None, reason="prometheus unreachable"
            )
        weight = self.weight() or 0
        canary_n = int(3000 * weight / 100)
        base_n = 3000 - canary_n
        errors = lambda n, p: sum(self.rng.random() < p for _ in range(n))  # noqa: E731
        return IntervalSample(
            self.looks,
            1.0,
            weight,
            ArmSample(base_n, errors(base_n, 0.01)),
            ArmSample(canary_n, errors(canary_n, self.rate)),
        )

    def display(self):
        return {}

    async def close(self):
        return None


def canary_context(
    tmp_path, monkeypatch, canary_error_rate: float, no_data: bool = False, on_inconclusive="pause"
):
    op = make_context(tmp_path)
    service = dataclasses.replace(op.config.services["web"], canary_steps=STEPS, analysis="test")
    template = dataclasses.replace(TEMPLATE, on_inconclusive=on_inconclusive)
    op.config = dataclasses.replace(
        op.config, services={"web": service}, analysis_templates={"test": template}
    )
    monkeypatch.setattr(
        sampling,
        "make_sampler",
        lambda *a, weight=None, **k: ScriptedSampler(canary_error_rate, weight, no_data),
    )
    return op


async def start(op):
    await deploy_blue_green(op, DeployRequest("web", "production", "v1"))
    return await deploy_canary(op, CanaryRequest("web", "production", "v2"))


def live(op):
    traffic = op.store.traffic("web", "production")
    return op.store.release(traffic.release_of(traffic.live_color)).name


async def test_a_healthy_canary_walks_every_step_and_becomes_live(tmp_path, monkeypatch):
    op = canary_context(tmp_path, monkeypatch, 0.01)
    result = await start(op)
    assert result.outcome == "succeeded", result.reason
    assert [f["weight_pct"] for e, _, f in op.events if e == "weight_set"] == [10, 50]
    traffic = op.store.traffic("web", "production")
    assert live(op) == "v2" and traffic.canary_release is None
    assert op.store.release(traffic.release_of("blue")).name == "v1"  # the baseline stays warm


async def test_a_failing_canary_is_rolled_back_at_once_naming_the_metric(tmp_path, monkeypatch):
    op = canary_context(tmp_path, monkeypatch, 0.08)
    result = await start(op)
    assert result.outcome == "rolled_back" and "errors FAIL" in result.reason
    assert live(op) == "v1" and op.store.traffic("web", "production").canary_release is None
    assert op.lbs.serving() == {"v1"}
    assert all(
        c.release == "v1" for h in op.fleet.fake_hosts.values() for c in h.containers.values()
    )


async def test_no_data_pauses_and_never_promotes_until_aborted(tmp_path, monkeypatch):
    op = canary_context(tmp_path, monkeypatch, 0.01, no_data=True)
    rollout = asyncio.create_task(start(op))
    for _ in range(200):
        if any(e == "paused" for e, _, _ in op.events):
            break
        await asyncio.sleep(0.05)
    assert not rollout.done() and live(op) == "v1"
    await request_signal(op, "web", "production", "abort")
    result = await asyncio.wait_for(rollout, 10)
    assert result.outcome == "rolled_back" and live(op) == "v1"


async def test_inconclusive_can_roll_back_instead_of_pausing(tmp_path, monkeypatch):
    op = canary_context(tmp_path, monkeypatch, 0.01, no_data=True, on_inconclusive="rollback")
    result = await start(op)
    assert result.outcome == "rolled_back" and "inconclusive" in result.reason


async def test_promote_skips_to_full_weight_after_the_current_analysis(tmp_path, monkeypatch):
    op = canary_context(tmp_path, monkeypatch, 0.01, no_data=True)
    rollout = asyncio.create_task(start(op))
    for _ in range(200):
        if any(e == "analysis" for e, _, _ in op.events):
            break
        await asyncio.sleep(0.05)
    await request_signal(op, "web", "production", "promote")
    result = await asyncio.wait_for(rollout, 10)
    assert result.outcome == "succeeded" and live(op) == "v2"


async def test_a_canary_without_a_live_baseline_is_blocked(tmp_path, monkeypatch):
    from console.core.errors import Blocked

    op = canary_context(tmp_path, monkeypatch, 0.01)
    with pytest.raises(Blocked, match="needs a live baseline"):
        await deploy_canary(op, CanaryRequest("web", "production", "v2"))


async def test_the_canary_dry_run_plan_is_the_plan_the_rollout_records(tmp_path, monkeypatch):
    op = canary_context(tmp_path, monkeypatch, 0.01)
    await deploy_blue_green(op, DeployRequest("web", "production", "v1"))

    dry = await deploy_canary(op, CanaryRequest("web", "production", "v2", dry_run=True))
    result = await deploy_canary(op, CanaryRequest("web", "production", "v2"))

    recorded = op.store.events(result.deployment_id)[0].data["plan"]
    assert recorded["steps"] == dry.plan and recorded["strategy"] == "canary"
    assert (recorded["from_color"], recorded["to_color"]) == ("blue", "green")


async def test_a_canary_dry_run_during_another_rollout_is_blocked_as_the_run_would_be(
    tmp_path, monkeypatch
):
    op = canary_context(tmp_path, monkeypatch, 0.01)
    await deploy_blue_green(op, DeployRequest("web", "production", "v1"))
    op.store.start_deployment(
        "web", "production", "canary", "deploy", None, None, "someone", op.clock.now(), {}
    )

    with pytest.raises(Blocked, match="another deployment is in progress"):
        await deploy_canary(op, CanaryRequest("web", "production", "v2", dry_run=True))
