"""State store: migrations, locks as leases, keyset paging over a million events."""

from __future__ import annotations

import resource
import sqlite3
from datetime import UTC, datetime, timedelta

from console.core.store import open_store
from console.core.store.sqlite import MIGRATIONS

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def test_a_new_store_is_migrated_to_the_latest_schema(tmp_path):
    store = open_store(tmp_path / "state.db")
    assert store.schema_version() == len(MIGRATIONS)


def test_an_old_store_is_migrated_forward_keeping_its_rows(tmp_path):
    path = tmp_path / "state.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute("PRAGMA user_version = 1")
    db.execute(
        "INSERT INTO deployments (service, environment, strategy, operator, started_at) VALUES"
        " ('web', 'production', 'blue-green', 'ann', '2026-11-01T00:00:00+00:00')"
    )
    db.commit()
    db.close()
    store = open_store(path)
    assert store.schema_version() == len(MIGRATIONS)
    assert [d.operator for d in store.history()] == ["ann"]


def test_a_held_lock_refuses_a_second_holder_and_names_the_first(tmp_path):
    store = open_store(tmp_path / "s.db")
    ours, _ = store.try_lock("web", "ann", "deploy v2", 30, NOW)
    refused, holder = store.try_lock("web", "bob", "deploy v3", 30, NOW)
    assert ours is not None and refused is None and holder.holder == "ann"


def test_a_lock_without_heartbeat_becomes_stale_after_its_lease(tmp_path):
    store = open_store(tmp_path / "s.db")
    lock, _ = store.try_lock("web", "ann", "deploy", 30, NOW)
    assert not lock.is_stale(NOW + timedelta(seconds=29))
    assert lock.is_stale(NOW + timedelta(seconds=31))


def test_a_heartbeat_keeps_the_lease_alive(tmp_path):
    store = open_store(tmp_path / "s.db")
    lock, _ = store.try_lock("web", "ann", "deploy", 30, NOW)
    store.heartbeat_lock("web", lock.token, NOW + timedelta(seconds=25))
    assert not store.lock("web").is_stale(NOW + timedelta(seconds=50))


def test_a_release_is_recorded_once_per_digest(tmp_path):
    store = open_store(tmp_path / "s.db")
    ref = "127.0.0.1:5000/demo@sha256:" + "a" * 64
    first = store.record_release("web", "production", ref, "v1", NOW)
    again = store.record_release("web", "production", ref, "v1", NOW)
    assert first.id == again.id and first.name == "v1"


def test_history_pages_newest_first_without_gaps(tmp_path):
    store = open_store(tmp_path / "s.db")
    ids = [
        store.start_deployment("web", "production", "blue-green", "deploy", None, None, "ann", NOW)
        for _ in range(25)
    ]
    page1 = store.history(limit=10)
    page2 = store.history(limit=10, before_id=page1[-1].id)
    page3 = store.history(limit=10, before_id=page2[-1].id)
    assert [d.id for d in page1 + page2 + page3] == sorted(ids, reverse=True)


def test_paging_a_million_events_is_indexed_and_stays_in_memory_bounds(tmp_path):
    path = tmp_path / "big.db"
    store = open_store(path)
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO deployments (id, service, environment, strategy, operator, started_at, outcome)"
            " VALUES (?, 'web', 'production', 'canary', 'ann', ?, 'succeeded')",
            ((i, (NOW + timedelta(seconds=i)).isoformat()) for i in range(1, 10_001)),
        )
        db.executemany(
            "INSERT INTO events (deployment_id, ts, kind, message) VALUES (?, ?, 'weight', 'weight set')",
            ((1 + i % 10_000, NOW.isoformat()) for i in range(1_000_000)),
        )
    plan = " ".join(
        str(row)
        for row in db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM deployments ORDER BY id DESC LIMIT 50"
        )
    )
    events_plan = " ".join(
        str(row)
        for row in db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM events WHERE deployment_id = 5 AND id > 0 ORDER BY id LIMIT 500"
        )
    )
    service_plan = " ".join(
        str(row)
        for row in db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM deployments WHERE service = 'web' ORDER BY id DESC LIMIT 50"
        )
    )
    db.close()
    assert "TEMP B-TREE" not in plan and "TEMP B-TREE" not in service_plan
    assert "deployments_by_service" in service_plan
    assert "events_by_deployment" in events_plan
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    page = store.history(limit=50)
    older = store.history(limit=50, before_id=page[-1].id)
    events = store.events(page[0].id, limit=500)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kb
    assert len(page) == 50 and older[0].id == page[-1].id - 1 and len(events) == 100
    assert grown_kb < 50_000
