"""The one lock API in console.core.locking: manual lock and unlock, takeover,
and the token check that keeps an unlock from dropping someone else's new lock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from console.core.clock import Clock
from console.core.errors import Blocked, InvalidInput
from console.core.locking import (
    acquire,
    lock_service,
    plan_lock,
    plan_unlock,
    release_stale,
    unlock_service,
)
from console.core.store import open_store


class FrozenClock(Clock):
    def __init__(self) -> None:
        super().__init__()
        self.offset = timedelta(0)

    def now(self):  # type: ignore[no-untyped-def]
        return super().now() + self.offset


@pytest.fixture
def store(tmp_path):
    opened = open_store(tmp_path / "state.db")
    yield opened
    opened.close()


def test_a_manual_lock_needs_a_reason(store):
    with pytest.raises(InvalidInput, match="reason"):
        lock_service(store, "web", "alice", "  ", Clock())


def test_a_manual_lock_blocks_a_second_operator_naming_the_first(store):
    lock_service(store, "web", "alice", "incident 7", Clock())
    with pytest.raises(Blocked, match="locked by alice"):
        lock_service(store, "web", "bob", "me too", Clock())


def test_unlocking_someone_elses_lock_needs_force_and_is_audited(store):
    lock_service(store, "web", "alice", "incident 7", Clock())
    with pytest.raises(Blocked, match="pass --force"):
        unlock_service(store, "web", "bob", Clock())
    released = unlock_service(store, "web", "bob", Clock(), force=True)
    assert released.forced and released.lock.holder == "alice"
    assert store.lock("web") is None
    assert store.audit_entries()[0].action == "force-unlock"


def test_an_unlock_never_drops_a_lock_taken_after_it_was_read(store, monkeypatch):
    old = lock_service(store, "web", "alice", "incident 7", Clock())
    store.try_lock("web", "carol", "deploy v2", 60, Clock().now(), force=True)
    reads = iter([old])
    real_lock = store.lock
    monkeypatch.setattr(store, "lock", lambda service: next(reads, None) or real_lock(service))

    with pytest.raises(Blocked, match="lock changed while unlocking: locked by carol"):
        unlock_service(store, "web", "alice", Clock())
    assert real_lock("web").holder == "carol"


async def test_take_over_claims_a_stale_lock_and_audits_it(store):
    clock = FrozenClock()
    store.try_lock("web", "ci", "deploy v2", 5, clock.now())
    clock.offset = timedelta(seconds=30)

    lease = await acquire(store, "web", "alice", "rollback to v1", 5, clock, take_over=True)

    assert lease.lock.holder == "alice"
    entry = store.audit_entries()[0]
    assert entry.action == "lock-takeover" and "took over from ci" in entry.detail


async def test_without_take_over_a_stale_lock_is_refused_with_the_way_out(store):
    clock = FrozenClock()
    store.try_lock("web", "ci", "deploy v2", 5, clock.now())
    clock.offset = timedelta(seconds=30)

    with pytest.raises(Blocked, match="shipdeck unlock web --force"):
        await acquire(store, "web", "alice", "deploy v3", 5, clock)


async def test_take_over_never_claims_another_operators_live_lock(store):
    store.try_lock("web", "ci", "deploy v2", 60, Clock().now())
    with pytest.raises(Blocked, match="locked by ci"):
        await acquire(store, "web", "alice", "rollback", 60, Clock(), take_over=True)


def test_release_stale_leaves_a_live_lease_alone(store):
    lock, _ = store.try_lock("web", "ci", "deploy v2", 60, Clock().now())
    assert not release_stale(store, lock, "alice", "resume", Clock())
    assert store.lock("web").holder == "ci"


def test_a_lock_dry_run_refuses_what_the_lock_would_and_changes_nothing(store):
    lock_service(store, "web", "alice", "incident 7", Clock())
    with pytest.raises(Blocked, match="locked by alice"):
        plan_lock(store, "web", "freeze", Clock())
    assert store.lock("web").holder == "alice" and len(store.audit_entries()) == 1


def test_an_unlock_dry_run_names_the_forced_takeover(store):
    lock_service(store, "web", "alice", "incident 7", Clock())
    steps = plan_unlock(store, "web", "bob", Clock(), force=True)
    assert "forced" in steps[0] and store.lock("web").holder == "alice"
