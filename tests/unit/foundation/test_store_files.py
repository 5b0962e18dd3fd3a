"""The state store's files: private modes, and one typed line for every unusable file.

``state.db`` holds who deployed what and why: its directory (when shipdeck
creates it) is 0700 and the database, -wal and -shm files are 0600. A file that
is corrupt, foreign, a directory or not writable is one ``StateStoreError``
line naming the file (exit 1), never a ``sqlite3`` traceback.
"""

from __future__ import annotations

import inspect
import os
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from console.cli import main
from console.core.errors import ExitCode, InvalidInput, StateStoreError
from console.core.store import StateStore, open_store
from console.core.store.sqlite import SqliteStore
from console.demo.environment import make_demo_directory

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common 022 umask, under which SQLite alone would create 0644 files."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_state_directory_shipdeck_creates_is_0700(tmp_path, usual_umask):
    open_store(tmp_path / "state" / "shipdeck" / "state.db").close()
    assert mode(tmp_path / "state" / "shipdeck") == 0o700


def test_an_existing_state_directory_keeps_its_mode(tmp_path, usual_umask):
    tmp_path.chmod(0o755)
    open_store(tmp_path / "state.db").close()
    assert mode(tmp_path) == 0o755


def test_the_database_and_its_wal_and_shm_files_are_0600(tmp_path, usual_umask):
    path = tmp_path / "state.db"
    store = open_store(path)
    store.start_deployment("web", "production", "canary", "deploy", None, None, "ann", NOW)
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    assert wal.exists() and shm.exists()  # the store is open in WAL mode
    assert (mode(path), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
    store.close()


def test_files_an_older_shipdeck_left_0644_are_tightened_to_0600(tmp_path, usual_umask):
    path = tmp_path / "state.db"
    db = sqlite3.connect(path)  # as SQLite alone makes them: 0644
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE scratch (x)")
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    db.execute("DROP TABLE scratch")
    assert (mode(path), mode(wal), mode(shm)) == (0o644, 0o644, 0o644)
    store = open_store(path)
    assert (mode(path), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
    store.close()
    db.close()


def test_the_demo_directory_is_0700_when_the_demo_creates_it(tmp_path, usual_umask):
    make_demo_directory(tmp_path / "demo")
    assert mode(tmp_path / "demo") == 0o700


def test_an_existing_demo_directory_keeps_its_mode(tmp_path, usual_umask):
    tmp_path.chmod(0o755)
    make_demo_directory(tmp_path)
    assert mode(tmp_path) == 0o755


def corrupt_after_first_page(path: Path, rows: int = 3000) -> None:
    """A store with enough rows that ``history --limit 2000`` reads past page 1,
    then every byte from offset 4096 on overwritten with garbage."""
    open_store(path).close()
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO deployments (service, environment, strategy, operator, started_at, reason)"
            " VALUES ('web', 'production', 'canary', 'ann', ?, ?)",
            (((NOW + timedelta(seconds=i)).isoformat(), "r" * 200) for i in range(rows)),
        )
    db.close()  # the last connection checkpoints: every row is in the main file now
    size = path.stat().st_size
    assert size > 64 * 4096
    with path.open("r+b") as file:
        file.seek(4096)
        file.write(bytes((i * 7 + 13) % 256 for i in range(size - 4096)))


def test_a_database_corrupted_after_its_first_page_is_one_line_and_exit_1(tmp_path, capsys):
    path = tmp_path / "state.db"
    corrupt_after_first_page(path)
    code = main(["--state", str(path), "history", "--limit", "2000"])
    err = capsys.readouterr().err
    assert code == ExitCode.FAILED == StateStoreError.exit_code
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"state store {path} is corrupt or unreadable: database disk image is malformed" in err


def test_a_corrupted_database_is_a_json_error_with_its_own_code(tmp_path, capsys):
    path = tmp_path / "state.db"
    corrupt_after_first_page(path)
    code = main(["--state", str(path), "--json", "history", "--limit", "2000"])
    out = capsys.readouterr().out
    assert code == 1 and '"code": "state_store"' in out


def test_a_file_that_is_not_a_database_is_one_line_and_left_unchanged(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n" * 400)
    path.chmod(0o644)
    code = main(["--state", str(path), "history"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert f"state store {path} is corrupt or unreadable: file is not a database" in err
    assert path.read_text() == "not a database\n" * 400 and mode(path) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_another_programs_sqlite_database_is_refused_and_left_unchanged(tmp_path):
    path = tmp_path / "places.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE bookmarks (url TEXT)")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(StateStoreError, match="an SQLite database of another program"):
        open_store(path)
    assert path.read_bytes() == before


def test_a_directory_as_the_state_path_is_one_line(tmp_path, capsys):
    code = main(["--state", str(tmp_path), "history"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert f"state store {tmp_path} is not accessible: Is a directory" in err


def test_a_state_path_under_a_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StateStoreError, match="cannot create its directory"):
        open_store(tmp_path / "file" / "sub" / "state.db")


def test_an_existing_store_sqlite_cannot_open_is_one_line(tmp_path, monkeypatch):
    # What a read-only directory does to WAL mode for a non-root user (it cannot
    # create -shm); the suite runs as root, so sqlite's refusal is simulated.
    open_store(tmp_path / "state.db").close()

    def refused(*args, **kwargs):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr("console.core.store.sqlite.sqlite3.connect", refused)
    with pytest.raises(StateStoreError, match=f"state store {tmp_path / 'state.db'} is"):
        open_store(tmp_path / "state.db").history()


def test_a_database_file_that_cannot_be_created_is_one_line(tmp_path, monkeypatch):
    # what a read-only directory does for a non-root user (the suite may run as root)
    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("console.core.store.sqlite.os.open", refused)
    with pytest.raises(StateStoreError) as error:
        open_store(tmp_path / "state.db")
    assert (
        str(error.value)
        == f"state store {tmp_path / 'state.db'} is not accessible: Permission denied"
    )


def test_a_row_with_an_undecodable_value_is_a_store_error(tmp_path):
    path = tmp_path / "state.db"
    store = open_store(path)
    store.start_deployment("web", "production", "canary", "deploy", None, None, "ann", NOW)
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE deployments SET state = '{not json', started_at = 'yesterday'")
    db.close()
    with pytest.raises(StateStoreError, match="is corrupt or unreadable: a"):
        store.history()
    store.close()


def test_a_closed_store_raises_a_store_error_not_sqlite3(tmp_path):
    store = open_store(tmp_path / "state.db")
    store.close()
    with pytest.raises(StateStoreError, match="Cannot operate on a closed database"):
        store.locks()


def test_an_integer_too_large_for_sqlite_is_invalid_input(tmp_path):
    store = open_store(tmp_path / "state.db")
    with pytest.raises(InvalidInput, match="out of range"):
        store.deployment(10**30)
    store.close()


def test_a_nul_byte_in_the_state_path_is_invalid_input(tmp_path):
    with pytest.raises(InvalidInput, match="NUL byte"):
        open_store(f"{tmp_path}/state\0.db")


def test_every_method_of_the_store_interface_is_guarded():
    public = [
        n for n, _ in inspect.getmembers(StateStore, inspect.isfunction) if not n.startswith("_")
    ]
    assert public and all(hasattr(getattr(SqliteStore, n), "__wrapped__") for n in public)
