"""The embedded state store: SQLite in WAL mode, versioned migrations on open.

Several processes write it at once (a TUI and an on-call's CLI), so every
write is a short transaction and the lock is a lease taken with one atomic
statement. History is paged by keyset (never OFFSET, never a full scan), so a
million events cost the same as ten.

The store holds who deployed what and why, so it is private: a state
directory shipdeck creates is 0700 (one that already exists, such as a
project or tmp directory, is left alone), and the database and its -wal and
-shm files are 0600 (tightened if an older shipdeck left them 0644). No
``sqlite3`` exception ever leaves the store: a corrupt, foreign, unreadable or
busy file is one ``StateStoreError`` line naming the file (exit 1).
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from console.core.errors import InvalidInput, ShipdeckError, StateStoreError
from console.core.store.sql import Row, SqlStore, guard_public_methods

MIGRATIONS: tuple[str, ...] = (
    # 1: the initial schema
    """
    CREATE TABLE releases (
        id INTEGER PRIMARY KEY,
        service TEXT NOT NULL,
        environment TEXT NOT NULL,
        image_ref TEXT NOT NULL,
        tag TEXT,
        created_at TEXT NOT NULL,
        first_deployed_at TEXT,
        last_live_at TEXT,
        last_healthy_at TEXT,
        labels TEXT NOT NULL DEFAULT '{}',
        UNIQUE (service, environment, image_ref)
    );
    CREATE TABLE deployments (
        id INTEGER PRIMARY KEY,
        service TEXT NOT NULL,
        environment TEXT NOT NULL,
        strategy TEXT NOT NULL,
        kind TEXT NOT NULL DEFAULT 'deploy',
        from_release INTEGER REFERENCES releases(id),
        to_release INTEGER REFERENCES releases(id),
        operator TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        outcome TEXT NOT NULL DEFAULT 'in_progress',
        reason TEXT,
        step TEXT,
        state TEXT NOT NULL DEFAULT '{}',
        heartbeat_at TEXT
    );
    CREATE INDEX deployments_by_start ON deployments (started_at);
    CREATE INDEX deployments_by_service ON deployments (service, id);
    CREATE INDEX deployments_in_progress ON deployments (outcome) WHERE outcome = 'in_progress';
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        deployment_id INTEGER NOT NULL REFERENCES deployments(id),
        ts TEXT NOT NULL,
        kind TEXT NOT NULL,
        message TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_by_deployment ON events (deployment_id, id);
    CREATE TABLE locks (
        service TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        since TEXT NOT NULL,
        reason TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL,
        lease_s REAL NOT NULL,
        token TEXT NOT NULL
    );
    CREATE TABLE flag_changes (
        id INTEGER PRIMARY KEY,
        flag_key TEXT NOT NULL,
        environment TEXT,
        operator TEXT NOT NULL,
        at TEXT NOT NULL,
        old TEXT,
        new TEXT
    );
    CREATE INDEX flag_changes_by_key ON flag_changes (flag_key, id DESC);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        operator TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    """,
    # 2: what is live where, and rollback drills
    """
    CREATE TABLE traffic (
        service TEXT NOT NULL,
        environment TEXT NOT NULL,
        live_color TEXT,
        blue_release INTEGER REFERENCES releases(id),
        green_release INTEGER REFERENCES releases(id),
        canary_release INTEGER REFERENCES releases(id),
        canary_weight_pct INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (service, environment)
    );
    CREATE TABLE drills (
        id INTEGER PRIMARY KEY,
        service TEXT NOT NULL,
        environment TEXT NOT NULL,
        at TEXT NOT NULL,
        outcome TEXT NOT NULL,
        rollback_s REAL,
        rollforward_s REAL,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX drills_by_service ON drills (service, environment, at DESC);
    """,
)


STATE_DIR_MODE = 0o700
STATE_FILE_MODE = 0o600
# What SQLite keeps next to the database in WAL mode; both hold recent writes.
SIDE_SUFFIXES = ("-wal", "-shm")

# SQLite result codes → what the store's refusal says the file is.
_CONDITIONS = {
    "SQLITE_CORRUPT": "corrupt or unreadable",
    "SQLITE_NOTADB": "corrupt or unreadable",
    "SQLITE_BUSY": "busy (another shipdeck kept it locked)",
    "SQLITE_LOCKED": "busy (another shipdeck kept it locked)",
    "SQLITE_READONLY": "read-only",
    "SQLITE_CANTOPEN": "not accessible",
    "SQLITE_PERM": "not accessible",
    "SQLITE_AUTH": "not accessible",
    "SQLITE_FULL": "on a full disk",
    "SQLITE_IOERR": "unreadable or unwritable",
}


def _make_private_directory(directory: Path) -> None:
    """``mkdir -p -m 700``: missing parents get the usual mode, the state directory 0700.

    A directory that already exists is the user's (a project or tmp directory):
    its mode is theirs to choose, so it is never changed.
    """
    if directory.is_dir():
        return
    directory.parent.mkdir(parents=True, exist_ok=True)
    try:
        directory.mkdir(mode=STATE_DIR_MODE)
    except FileExistsError:
        return  # made by a concurrent shipdeck, or not a directory (open says so)
    directory.chmod(STATE_DIR_MODE)  # mkdir's mode passes through the umask


def _make_private_file(path: Path) -> None:
    """Create the database file 0600 before SQLite opens it (SQLite would use 0644)."""
    if path.is_dir():
        raise IsADirectoryError(21, "Is a directory", str(path))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, STATE_FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)  # an empty file is a valid empty database


def _tighten(path: Path) -> None:
    """Make ``path`` 0600 if it is a regular file of ours that others may read."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    if (
        stat.S_ISREG(info.st_mode)
        and info.st_uid == os.geteuid()
        and stat.S_IMODE(info.st_mode) != STATE_FILE_MODE
    ):
        os.chmod(path, STATE_FILE_MODE)


class _Runner:
    """``sql.Runner`` over the connection, inside ``SqliteStore._tx``."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        return self._db.execute(sql, params).rowcount

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Row]:
        cursor = self._db.execute(sql, params)
        cursor.row_factory = sqlite3.Row
        return list(cursor.fetchall())


@guard_public_methods
class SqliteStore(SqlStore):
    """State store on one SQLite file; safe to share across threads of one process.

    Every public method raises ``StateStoreError`` (never a ``sqlite3`` error)
    when the file cannot be used. The operations themselves are ``SqlStore``'s.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.location = str(path)
        if "\0" in str(path):
            raise InvalidInput(f"state store {str(path)!r}: a path cannot contain a NUL byte")
        in_memory = str(path) == ":memory:"
        if not in_memory:
            try:
                _make_private_directory(self.path.parent)
            except OSError as error:
                raise StateStoreError(
                    f"state store {self.path}: cannot create its directory: {error.strerror}"
                ) from None
            try:
                _make_private_file(self.path)
            except OSError as error:
                raise StateStoreError(
                    f"state store {self.path} is not accessible: {error.strerror}"
                ) from None
        try:
            self._db = sqlite3.connect(
                str(path), timeout=10.0, check_same_thread=False, isolation_level=None
            )
        except sqlite3.Error as error:
            raise self._refusal(error) from error
        self._lock = threading.RLock()
        try:
            self._refuse_a_foreign_database()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=10000")
            self.migrate()
            if not in_memory:
                # Only now is the file known to be a state store (never chmod a file
                # --state named by mistake). WAL mode made -wal and -shm; SQLite gives
                # new ones the database's mode, an older shipdeck left them 0644.
                for suffix in ("", *SIDE_SUFFIXES):
                    _tighten(self.path.with_name(self.path.name + suffix))
        except BaseException as error:
            self._db.close()
            if isinstance(error, sqlite3.Error):
                raise self._refusal(error) from error
            if isinstance(error, OSError):
                raise StateStoreError(
                    f"state store {self.path}: cannot make its files private: {error.strerror}"
                ) from None
            raise

    def _refuse_a_foreign_database(self) -> None:
        """Another program's SQLite file (tables, but no schema version of ours) is
        refused before WAL mode or a migration would change it. One statement, so
        a concurrent shipdeck's first migration is seen whole or not at all."""
        version, has_tables = self._db.execute(
            "SELECT (SELECT user_version FROM pragma_user_version),"
            " EXISTS (SELECT 1 FROM sqlite_master)"
        ).fetchone()
        if version == 0 and has_tables:
            raise StateStoreError(
                f"state store {self.path} is an SQLite database of another program,"
                " not a shipdeck state store"
            )

    def _failure(self, error: Exception) -> ShipdeckError | None:
        if isinstance(error, OverflowError):  # an int SQLite cannot bind: the caller's input
            return InvalidInput(f"state store {self.path}: a value is out of range: {error}")
        if not isinstance(error, sqlite3.Error):
            return None
        return self._refusal(error)

    def _refusal(self, error: sqlite3.Error) -> StateStoreError:
        # extended names (SQLITE_IOERR_SHORT_READ) share their primary code's wording
        name = getattr(error, "sqlite_errorname", None) or ""
        condition = _CONDITIONS.get("_".join(name.split("_")[:2]), "unusable")
        return StateStoreError(f"state store {self.path} is {condition}: {error}")

    # -- plumbing -------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[_Runner]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield _Runner(self._db)
            except BaseException as error:
                self._rollback(error)
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                self._rollback(error)  # else the next BEGIN fails "within a transaction"
                raise

    def _rollback(self, error: BaseException) -> None:
        """Roll back after ``error``; the first error stays the one reported."""
        if not self._db.in_transaction:
            return  # SQLite already rolled back (it does after CORRUPT, FULL, IOERR)
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error as rollback_error:
            error.add_note(f"ROLLBACK failed too: {rollback_error}")

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Row]:
        with self._lock:
            return _Runner(self._db).rows(sql, params)

    def schema_version(self) -> int:
        return int(self._query("SELECT user_version FROM pragma_user_version")[0]["user_version"])

    def migrate(self) -> int:
        """Apply pending migrations in order, each in its own transaction.

        The version is read again inside each (write-locked) transaction: several
        shipdecks opening a fresh file at once each see the others' migrations and
        skip them, instead of failing on "table releases already exists"."""
        with self._lock:
            current = self._newest_known(_Runner(self._db))
            for version in range(current + 1, len(MIGRATIONS) + 1):
                with self._tx() as db:
                    if self._newest_known(db) >= version:
                        continue  # another shipdeck applied it meanwhile
                    for statement in MIGRATIONS[version - 1].split(";"):
                        if statement.strip():
                            db.run(statement)
                    db.run(f"PRAGMA user_version = {version}")
            return self.schema_version()

    def _newest_known(self, db: _Runner) -> int:
        """The schema version, refusing one newer than this shipdeck knows."""
        current = int(db.rows("SELECT user_version FROM pragma_user_version")[0]["user_version"])
        if current > len(MIGRATIONS):
            raise InvalidInput(
                f"state store {self.path}: schema version {current} is newer than this shipdeck "
                f"({len(MIGRATIONS)}); upgrade shipdeck"
            )
        return current

    def close(self) -> None:
        with self._lock:
            self._db.close()
