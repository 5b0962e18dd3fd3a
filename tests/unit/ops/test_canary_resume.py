"""A canary whose process died mid-analysis: ``--resume`` re-checks, restores, continues."""

from __future__ import annotations

from console.core.ops import sampling
from console.core.ops.canary import CanaryRequest, deploy_canary
from tests.unit.ops.test_canary_flow import ScriptedSampler, canary_context, live, start


class Killed(BaseException):
    """Stands in for ``kill -9``: nothing in the rollout catches it, so nothing is undone."""


class DyingSampler(ScriptedSampler):
    async def sample(self):  # type: ignore[no-untyped-def]
        raise Killed


async def interrupted_mid_analysis(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    op = canary_context(tmp_path, monkeypatch, 0.01)
    monkeypatch.setattr(
        sampling, "make_sampler", lambda *a, weight=None, **k: DyingSampler(0.01, weight)
    )
    try:
        await start(op)
    except Killed:
        pass
    else:
        raise AssertionError("the rollout should have died")
    monkeypatch.setattr(
        sampling, "make_sampler", lambda *a, weight=None, **k: ScriptedSampler(0.01, weight)
    )
    (deployment,) = op.store.in_progress("web", "production")
    assert deployment.state["weight_pct"] == 10
    op.events.clear()
    return op, deployment


def resume(op):  # type: ignore[no-untyped-def]
    return deploy_canary(op, CanaryRequest("web", "production", None, resume=True))


async def test_resume_restores_the_recorded_weight_then_finishes_the_steps(tmp_path, monkeypatch):
    op, deployment = await interrupted_mid_analysis(tmp_path, monkeypatch)
    result = await resume(op)
    assert result.outcome == "succeeded" and result.deployment_id == deployment.id
    assert [f["weight_pct"] for e, _, f in op.events if e == "weight_set"] == [10, 50]
    assert live(op) == "v2" and op.store.in_progress("web", "production") == []


async def test_resume_with_a_dead_canary_rolls_back_to_the_baseline(tmp_path, monkeypatch):
    op, deployment = await interrupted_mid_analysis(tmp_path, monkeypatch)
    canary_color = deployment.state["to_color"]
    for host in op.fleet.fake_hosts.values():
        for name in [n for n, c in host.containers.items() if c.color == canary_color]:
            del host.containers[name]
    result = await resume(op)
    assert result.outcome == "rolled_back" and "health" in result.reason
    assert live(op) == "v1" and op.lbs.serving() == {"v1"}
    assert not any(e == "weight_set" for e, _, _ in op.events)  # never weighted to a dead canary
