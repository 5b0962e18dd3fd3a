"""Who may resume an interrupted rollout: never while its runner heartbeats."""

from __future__ import annotations

from datetime import timedelta

import pytest

from console.core.errors import Blocked
from console.core.ops.resume import claim_interrupted
from tests.unit.ops.fakes import make_context


def start_deployment(op) -> int:  # type: ignore[no-untyped-def]
    return op.store.start_deployment(
        "web", "production", "canary", "deploy", None, None, "ci", op.clock.now(), {}
    )


def test_nothing_in_progress_cannot_be_resumed(tmp_path):
    op = make_context(tmp_path)
    with pytest.raises(Blocked, match="no interrupted deployment"):
        claim_interrupted(op, "web", "production")


def test_a_deployment_whose_runner_still_heartbeats_is_not_taken_over(tmp_path):
    op = make_context(tmp_path)
    start_deployment(op)
    op.store.try_lock("web", "tester", "deploy", 2.0, op.clock.now())
    with pytest.raises(Blocked, match="still running"):
        claim_interrupted(op, "web", "production")  # even by the same operator
    assert op.store.lock("web") is not None


def test_a_dead_runners_lease_is_released_and_audited(tmp_path):
    op = make_context(tmp_path)
    deployment_id = start_deployment(op)
    op.store.try_lock("web", "ci", "deploy", 2.0, op.clock.now() - timedelta(seconds=10))
    assert claim_interrupted(op, "web", "production").id == deployment_id
    assert op.store.lock("web") is None
    audit = op.store.audit_entries(limit=5)
    assert any(a.action == "lock-takeover" and "was ci" in a.detail for a in audit)


def test_a_deployment_without_a_lock_is_claimed_as_it_is(tmp_path):
    op = make_context(tmp_path)
    deployment_id = start_deployment(op)
    assert claim_interrupted(op, "web", "production").id == deployment_id
