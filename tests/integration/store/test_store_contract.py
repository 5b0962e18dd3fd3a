"""The ``StateStore`` contract, held by both backends: every test runs on the
embedded SQLite file and on a real PostgreSQL (no mocks)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from console.core.errors import InvalidInput
from console.core.store import Outcome, TrafficRecord
from console.core.store.postgres import MIGRATIONS as PG_MIGRATIONS
from console.core.store.sqlite import MIGRATIONS as SQLITE_MIGRATIONS
from tests.integration.store.contract_data import NOW, REF, REF2
from tests.integration.store.helpers import open_at

pytestmark = pytest.mark.rig


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def test_a_new_store_is_at_the_latest_schema_version_and_reopening_keeps_it(location):
    assert len(PG_MIGRATIONS) == len(SQLITE_MIGRATIONS)
    first = open_at(location)
    assert first.schema_version() == len(SQLITE_MIGRATIONS)
    first.audit("ann", "deploy", "web", "", NOW)
    first.close()
    again = open_at(location)
    assert again.migrate() == len(SQLITE_MIGRATIONS)
    assert [e.operator for e in again.audit_entries()] == ["ann"]
    again.close()


# -- locks -----------------------------------------------------------------------


def test_a_held_lock_refuses_a_second_holder_and_names_the_first(store):
    ours, refused_by = store.try_lock("web", "ann", "deploy v2", 30, NOW)
    theirs, holder = store.try_lock("web", "bob", "deploy v3", 30, later(1))
    assert ours is not None and refused_by is None
    assert theirs is None and holder.holder == "ann" and holder.reason == "deploy v2"
    assert holder.token == ours.token and holder.since == NOW


def test_a_stale_lease_is_refused_without_force_and_taken_over_with_it(store):
    ann, _ = store.try_lock("web", "ann", "deploy", 30, NOW)
    assert store.lock("web").is_stale(later(31))
    refused, holder = store.try_lock("web", "bob", "deploy", 30, later(31))
    assert refused is None and holder.holder == "ann"
    bob, _ = store.try_lock("web", "bob", "takeover", 30, later(31), force=True)
    assert bob is not None and bob.token != ann.token
    assert store.lock("web").holder == "bob" and store.lock("web").since == later(31)


def test_a_lock_is_released_only_by_its_token(store):
    ann, _ = store.try_lock("web", "ann", "deploy", 30, NOW)
    assert store.release_lock("web", "not-the-token") is False
    assert store.lock("web").holder == "ann"
    assert store.release_lock("web", ann.token) is True
    assert store.lock("web") is None
    assert store.release_lock("web", ann.token) is False


def test_an_unconditional_release_drops_whatever_lock_is_held(store):
    store.try_lock("web", "ann", "deploy", 30, NOW)
    assert store.release_lock("web") is True and store.locks() == []


def test_a_heartbeat_keeps_the_lease_alive_and_needs_the_token(store):
    ann, _ = store.try_lock("web", "ann", "deploy", 30, NOW)
    assert store.heartbeat_lock("web", ann.token, later(25)) is True
    assert store.heartbeat_lock("web", "someone-else", later(26)) is False
    lock = store.lock("web")
    assert lock.heartbeat_at == later(25) and lock.lease_s == 30.0
    assert not lock.is_stale(later(50)) and lock.is_stale(later(56))


def test_locks_are_listed_by_service(store):
    store.try_lock("web", "ann", "a", 30, NOW)
    store.try_lock("api", "bob", "b", 12.5, NOW)
    assert [(lock.service, lock.holder, lock.lease_s) for lock in store.locks()] == [
        ("api", "bob", 12.5),
        ("web", "ann", 30.0),
    ]


# -- deployments and events -------------------------------------------------------


def test_a_deployment_records_its_progress_events_and_outcome(store):
    release = store.record_release("web", "production", REF, "v1", NOW)
    dep = store.start_deployment(
        "web", "production", "canary", "deploy", None, None, "ann", NOW, {"phase": 1}
    )
    running = store.deployment(dep)
    assert running.outcome is Outcome.IN_PROGRESS and running.step == "started"
    assert running.state == {"phase": 1} and running.heartbeat_at == NOW
    store.update_deployment(
        dep, later(5), step="canary 5%", state={"phase": 2, "weights": [5]}, to_release=release.id
    )
    first = store.add_event(dep, "step", "canary at 5%", later(6), {"weight_pct": 5})
    second = store.add_event(dep, "judge", "healthy", later(7))
    assert second > first and store.latest_event_id() == second
    updated = store.deployment(dep)
    assert updated.step == "canary 5%" and updated.to_release == release.id
    assert updated.state == {"phase": 2, "weights": [5]} and updated.heartbeat_at == later(7)
    assert [(e.kind, e.data) for e in store.events(dep)] == [
        ("step", {"weight_pct": 5}),
        ("judge", {}),
    ]
    assert [e.message for e in store.events(dep, after_id=first)] == ["healthy"]
    assert store.events(dep)[0].ts == later(6)
    assert [d.id for d in store.in_progress("web", "production")] == [dep]
    store.finish_deployment(dep, Outcome.SUCCEEDED, None, later(60))
    done = store.deployment(dep)
    assert done.outcome is Outcome.SUCCEEDED and done.finished_at == later(60)
    assert done.duration_s == 60.0 and store.in_progress() == []


def test_a_missing_deployment_is_none_and_a_store_without_events_says_zero(store):
    assert store.deployment(12345) is None and store.latest_event_id() == 0
    assert store.last_deployment("web", "production") is None


def test_the_last_deployment_can_be_asked_for_by_kind(store):
    deploy = store.start_deployment("web", "production", "bg", "deploy", None, None, "ann", NOW)
    rollback = store.start_deployment("web", "production", "bg", "rollback", None, None, "bob", NOW)
    store.start_deployment("web", "staging", "bg", "deploy", None, None, "ann", NOW)
    assert store.last_deployment("web", "production").id == rollback
    assert store.last_deployment("web", "production", kind="deploy").id == deploy


# -- history ------------------------------------------------------------------------


def test_history_pages_newest_first_by_keyset_without_gaps_or_repeats(store):
    ids = [
        store.start_deployment("web", "production", "bg", "deploy", None, None, "ann", later(i))
        for i in range(25)
    ]
    seen: list[int] = []
    before = None
    while True:
        page = store.history(limit=10, before_id=before)
        if not page:
            break
        seen += [d.id for d in page]
        before = page[-1].id
    assert seen == sorted(ids, reverse=True)


def test_history_filters_by_service_time_and_text_ignoring_case(store):
    a = store.start_deployment("web", "production", "bg", "deploy", None, None, "Ann", NOW)
    b = store.start_deployment("api", "production", "bg", "deploy", None, None, "bob", later(10))
    store.finish_deployment(b, "rolled_back", "Error rate 12%", later(20))
    assert [d.id for d in store.history("web")] == [a]
    assert [d.id for d in store.history(since=later(5))] == [b]
    assert [d.id for d in store.history(text="ann")] == [a]
    assert [d.id for d in store.history(text="error RATE")] == [b]
    assert [d.id for d in store.history(text="ROLLED")] == [b]


def test_history_refuses_a_page_size_out_of_range(store):
    with pytest.raises(InvalidInput):
        store.history(limit=0)


# -- releases ------------------------------------------------------------------------


def test_a_release_is_recorded_once_per_digest_and_learns_its_tag(store):
    untagged = store.record_release("web", "production", REF, None, NOW, {"git": "abc"})
    assert untagged.name == "a" * 12 and untagged.labels == {"git": "abc"}
    tagged = store.record_release("web", "production", REF, "v1", later(5))
    assert tagged.id == untagged.id and tagged.tag == "v1" and tagged.created_at == NOW
    again = store.record_release("web", "production", REF, "v1-renamed", later(6))
    assert again.tag == "v1"
    assert store.release(untagged.id) == again and store.release(999) is None


def test_releases_list_the_last_live_first_and_remember_the_first_deploy(store):
    v1 = store.record_release("web", "production", REF, "v1", NOW)
    store.record_release("web", "production", REF2, "v2", later(10))
    assert [r.tag for r in store.releases("web", "production")] == ["v2", "v1"]
    store.mark_release(v1.id, later(20), live=True)
    store.mark_release(v1.id, later(30), live=True, healthy=True)
    assert [r.tag for r in store.releases("web", "production")] == ["v1", "v2"]
    marked = store.release(v1.id)
    assert marked.first_deployed_at == later(20) and marked.last_live_at == later(30)
    assert marked.last_healthy_at == later(30)
    assert (
        store.releases("web", "staging") == [] and len(store.releases("web", "production", 1)) == 1
    )


# -- traffic, drills, audit, flags -----------------------------------------------------


def test_traffic_is_replaced_per_service_and_environment(store):
    v1 = store.record_release("web", "production", REF, "v1", NOW)
    v2 = store.record_release("web", "production", REF2, "v2", NOW)
    assert store.traffic("web", "production") is None
    store.set_traffic(TrafficRecord("web", "production", "blue", v1.id, None, None, 0, NOW))
    after = TrafficRecord("web", "production", "green", v1.id, v2.id, v2.id, 25, later(9))
    store.set_traffic(after)
    assert store.traffic("web", "production") == after
    assert store.traffic("web", "production").release_of("green") == v2.id
    assert store.traffic("web", "staging") is None


def test_the_last_drill_is_the_last_successful_one_unless_any_is_asked_for(store):
    store.record_drill("web", "production", "succeeded", 1.5, 2.25, "ok", NOW)
    store.record_drill("web", "production", Outcome.FAILED, None, None, "timed out", later(60))
    good = store.last_drill("web", "production")
    assert good.outcome is Outcome.SUCCEEDED and good.rollback_s == 1.5 and good.at == NOW
    latest = store.last_drill("web", "production", successful=False)
    assert latest.outcome is Outcome.FAILED and latest.rollforward_s is None
    assert store.last_drill("api", "production") is None


def test_audit_entries_come_newest_first(store):
    store.audit("ann", "unlock", "web", "forced", NOW)
    store.audit("bob", "lock", "api", "", later(1))
    assert [(e.operator, e.action, e.detail) for e in store.audit_entries()] == [
        ("bob", "lock", ""),
        ("ann", "unlock", "forced"),
    ]
    assert len(store.audit_entries(limit=1)) == 1


def test_flag_changes_keep_old_and_new_values_newest_first(store):
    store.record_flag_change("new-checkout", None, "ann", None, {"enabled": True}, NOW)
    store.record_flag_change(
        "new-checkout", "production", "bob", {"enabled": True}, {"rollout": 25}, later(5)
    )
    store.record_flag_change("other", None, "ann", {"a": 1}, None, later(6))
    changes = store.flag_changes("new-checkout")
    assert [(c.operator, c.environment, c.old, c.new) for c in changes] == [
        ("bob", "production", {"enabled": True}, {"rollout": 25}),
        ("ann", None, None, {"enabled": True}),
    ]
    assert changes[0].at == later(5) and store.flag_changes("other")[0].new is None
