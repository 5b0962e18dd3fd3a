"""Several shipdeck processes on one store at once: creating the schema on an
empty store, and racing for one lock. Each process is a separate connection,
as a second operator's machine would be."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from console.core.errors import StateStoreUnreachable
from console.core.store.sqlite import MIGRATIONS
from tests.integration.store.helpers import open_at, python

pytestmark = pytest.mark.rig

PROCESSES = 8


def _run_together(code: str, count: int = PROCESSES) -> list[tuple[int, str, str]]:
    """Start ``count`` processes that each run ``code`` at the same moment (after
    their imports), and wait for all of them."""
    start_at = time.time() + 1.5
    prelude = f"import time\ntime.sleep(max(0.0, {start_at!r} - time.time()))\n"
    processes = [python(prelude + code) for _ in range(count)]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        results.append((process.returncode, out, err))
    return results


def _opening(location: str) -> str:
    return (
        "from tests.integration.store.helpers import open_at\n"
        f"store = open_at({location!r})\n"
        "print(store.schema_version())\n"
    )


def test_eight_processes_opening_a_fresh_sqlite_file_at_once_all_succeed(tmp_path):
    path = str(tmp_path / "fresh" / "state.db")
    import_first = "from console.core.store import open_store\n"
    results = _run_together(import_first + _opening(path))
    assert [(rc, out.strip()) for rc, out, _ in results] == [
        (0, str(len(MIGRATIONS)))
    ] * PROCESSES, [err for _, _, err in results if err]


def test_eight_processes_creating_the_schema_on_an_empty_database_at_once_all_succeed(
    empty_database,
):
    import_first = "import psycopg\nfrom console.core.store.postgres import PostgresStore\n"
    results = _run_together(import_first + _opening(empty_database))
    assert [(rc, out.strip()) for rc, out, _ in results] == [
        (0, str(len(MIGRATIONS)))
    ] * PROCESSES, [err for _, _, err in results if err]


def _taking(location: str, holder: str) -> str:
    """Code that tries to take web's lock as ``holder`` (a Python expression)."""
    return (
        "import json, os\nfrom datetime import UTC, datetime\n"
        "from tests.integration.store.helpers import open_at\n"
        f"store = open_at({location!r})\n"
        f"ours, holder = store.try_lock('web', {holder}, 'deploy', 30, datetime.now(UTC))\n"
        "print(json.dumps({'took': ours is not None, 'holder': (ours or holder).holder}))\n"
    )


def test_a_lock_taken_through_one_connection_blocks_another_process(location):
    store = open_at(location)
    try:
        ours, _ = store.try_lock("web", "ann", "deploy v2", 30, datetime.now(UTC))
        assert ours is not None
        [(rc, out, err)] = _run_together(_taking(location, "'bob'"), count=1)
        assert rc == 0, err
        assert json.loads(out) == {"took": False, "holder": "ann"}
        assert store.release_lock("web", ours.token)
        [(rc, out, err)] = _run_together(_taking(location, "'bob'"), count=1)
        assert json.loads(out) == {"took": True, "holder": "bob"}
    finally:
        store.close()


def test_of_eight_processes_racing_for_one_lock_exactly_one_takes_it(location):
    open_at(location).close()  # the schema exists: this race is about the lock alone
    results = _run_together(_taking(location, "f'op{os.getpid()}'"))
    assert all(rc == 0 for rc, _, _ in results), [err for _, _, err in results]
    answers = [json.loads(out) for _, out, _ in results]
    winners = [a["holder"] for a in answers if a["took"]]
    assert len(winners) == 1
    assert {a["holder"] for a in answers} == set(winners)
    store = open_at(location)
    assert store.lock("web").holder == winners[0]
    store.close()


def test_a_dropped_connection_is_one_unreachable_error_and_the_next_call_reconnects(
    postgres, empty_database
):
    store = open_at(empty_database)
    try:
        store.audit("ann", "lock", "web", "", datetime.now(UTC))
        database = empty_database.rsplit("/", 1)[1]
        postgres.sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE datname = '{database}' AND application_name = 'shipdeck'"
        )
        with pytest.raises(StateStoreUnreachable, match=f"127.0.0.1:{postgres.port}/"):
            store.audit("bob", "lock", "web", "", datetime.now(UTC))  # a write transaction
        assert [e.operator for e in store.audit_entries()] == ["ann"]  # nothing half-written
    finally:
        store.close()
