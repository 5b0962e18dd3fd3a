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

import functools
import json
import os
import sqlite3
import stat
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from console.core.errors import InvalidInput, StateStoreError
from console.core.store.model import (
    AuditEntry,
    Deployment,
    Drill,
    Event,
    FlagChange,
    Lock,
    Outcome,
    Release,
    TrafficRecord,
)

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


def _ts(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class _CorruptValue(Exception):
    """A stored value that cannot be decoded (a tampered or damaged row)."""


def _dt(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise _CorruptValue(f"a timestamp is not ISO 8601: {str(text)[:40]!r}") from None


def _dt_required(text: str | None) -> datetime:
    """A timestamp of a NOT NULL column: missing means the row is corrupt, not "never"."""
    moment = _dt(text)
    if moment is None:
        raise _CorruptValue("a required timestamp is empty")
    return moment


def _json(text: str | None, default: Any = None) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except (TypeError, ValueError, RecursionError):
        raise _CorruptValue(f"a JSON column is not JSON: {str(text)[:40]!r}") from None


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _CorruptValue(f"a number column is not a number: {str(value)[:40]!r}") from None


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


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _store_errors(method: _Method) -> _Method:
    """Turn every ``sqlite3`` error (and an undecodable row) into one ``StateStoreError``,
    and an integer too large for SQLite into ``InvalidInput``."""

    @functools.wraps(method)
    def guarded(self: SqliteStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as error:
            raise self._failure(error) from error
        except _CorruptValue as error:
            raise StateStoreError(
                f"state store {self.path} is corrupt or unreadable: {error}"
            ) from error
        except OverflowError as error:  # an int SQLite cannot bind: the caller's input
            raise InvalidInput(
                f"state store {self.path}: a value is out of range: {error}"
            ) from None

    return guarded  # type: ignore[return-value]


def _guard_public_methods(cls: type) -> type:
    """Apply ``_store_errors`` to every public method, so a new one cannot forget it."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and callable(member):
            setattr(cls, name, _store_errors(member))
    return cls


@_guard_public_methods
class SqliteStore:
    """State store on one SQLite file; safe to share across threads of one process.

    Every public method raises ``StateStoreError`` (never a ``sqlite3`` error)
    when the file cannot be used.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
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
            raise self._failure(error) from error
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
                raise self._failure(error) from error
            if isinstance(error, OSError):
                raise StateStoreError(
                    f"state store {self.path}: cannot make its files private: {error.strerror}"
                ) from None
            raise

    def _refuse_a_foreign_database(self) -> None:
        """Another program's SQLite file (tables, but no schema version of ours) is
        refused before WAL mode or a migration would change it."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0 and self._db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
            raise StateStoreError(
                f"state store {self.path} is an SQLite database of another program,"
                " not a shipdeck state store"
            )

    def _failure(self, error: sqlite3.Error) -> StateStoreError:
        # extended names (SQLITE_IOERR_SHORT_READ) share their primary code's wording
        name = getattr(error, "sqlite_errorname", None) or ""
        condition = _CONDITIONS.get("_".join(name.split("_")[:2]), "unusable")
        return StateStoreError(f"state store {self.path} is {condition}: {error}")

    # -- plumbing -------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
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

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            cursor = self._db.execute(sql, params)
            cursor.row_factory = sqlite3.Row
            return cursor.fetchall()

    def schema_version(self) -> int:
        return int(self._query("PRAGMA user_version")[0][0])

    def migrate(self) -> int:
        """Apply pending migrations in order, each in its own transaction."""
        with self._lock:
            current = self.schema_version()
            if current > len(MIGRATIONS):
                raise InvalidInput(
                    f"state store {self.path}: schema version {current} is newer than this shipdeck "
                    f"({len(MIGRATIONS)}); upgrade shipdeck"
                )
            for version in range(current + 1, len(MIGRATIONS) + 1):
                with self._tx() as db:
                    for statement in MIGRATIONS[version - 1].split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version = {version}")
            return self.schema_version()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- releases ---------------------------------------------------------------

    def record_release(
        self,
        service: str,
        environment: str,
        image_ref: str,
        tag: str | None,
        now: datetime,
        labels: dict[str, str] | None = None,
    ) -> Release:
        """Insert a release or return the existing one: a digest is a release once."""
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO releases (service, environment, image_ref, tag, created_at, labels)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    service,
                    environment,
                    image_ref,
                    tag,
                    _ts(now),
                    json.dumps(labels or {}, sort_keys=True),
                ),
            )
            if tag:
                db.execute(
                    "UPDATE releases SET tag = ? WHERE service = ? AND environment = ? AND image_ref = ? AND tag IS NULL",
                    (tag, service, environment, image_ref),
                )
        rows = self._query(
            "SELECT * FROM releases WHERE service = ? AND environment = ? AND image_ref = ?",
            (service, environment, image_ref),
        )
        return self._release(rows[0])

    def release(self, release_id: int) -> Release | None:
        rows = self._query("SELECT * FROM releases WHERE id = ?", (release_id,))
        return self._release(rows[0]) if rows else None

    def releases(self, service: str, environment: str, limit: int = 50) -> list[Release]:
        rows = self._query(
            "SELECT * FROM releases WHERE service = ? AND environment = ?"
            " ORDER BY COALESCE(last_live_at, created_at) DESC, id DESC LIMIT ?",
            (service, environment, limit),
        )
        return [self._release(r) for r in rows]

    def mark_release(
        self, release_id: int, now: datetime, *, live: bool = False, healthy: bool = False
    ) -> None:
        with self._tx() as db:
            if live:
                db.execute(
                    "UPDATE releases SET last_live_at = ?, first_deployed_at = COALESCE(first_deployed_at, ?)"
                    " WHERE id = ?",
                    (_ts(now), _ts(now), release_id),
                )
            if healthy:
                db.execute(
                    "UPDATE releases SET last_healthy_at = ? WHERE id = ?", (_ts(now), release_id)
                )

    @staticmethod
    def _release(row: sqlite3.Row) -> Release:
        return Release(
            id=row["id"],
            service=row["service"],
            environment=row["environment"],
            image_ref=row["image_ref"],
            tag=row["tag"],
            created_at=_dt_required(row["created_at"]),
            first_deployed_at=_dt(row["first_deployed_at"]),
            last_live_at=_dt(row["last_live_at"]),
            last_healthy_at=_dt(row["last_healthy_at"]),
            labels=_json(row["labels"], {}),
        )

    # -- deployments and events ---------------------------------------------------

    def start_deployment(
        self,
        service: str,
        environment: str,
        strategy: str,
        kind: str,
        from_release: int | None,
        to_release: int | None,
        operator: str,
        now: datetime,
        state: dict[str, Any] | None = None,
    ) -> int:
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO deployments (service, environment, strategy, kind, from_release, to_release,"
                " operator, started_at, heartbeat_at, state, step) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    service,
                    environment,
                    strategy,
                    kind,
                    from_release,
                    to_release,
                    operator,
                    _ts(now),
                    _ts(now),
                    json.dumps(state or {}, sort_keys=True),
                    "started",
                ),
            )
            return int(cursor.lastrowid or 0)

    def update_deployment(
        self,
        deployment_id: int,
        now: datetime,
        *,
        step: str | None = None,
        state: dict[str, Any] | None = None,
        to_release: int | None = None,
    ) -> None:
        """Persist progress of the state machine; also a heartbeat."""
        sets = ["heartbeat_at = ?"]
        params: list[Any] = [_ts(now)]
        if step is not None:
            sets.append("step = ?")
            params.append(step)
        if state is not None:
            sets.append("state = ?")
            params.append(json.dumps(state, sort_keys=True))
        if to_release is not None:
            sets.append("to_release = ?")
            params.append(to_release)
        params.append(deployment_id)
        with self._tx() as db:
            db.execute(f"UPDATE deployments SET {', '.join(sets)} WHERE id = ?", tuple(params))

    def finish_deployment(
        self, deployment_id: int, outcome: str, reason: str | None, now: datetime
    ) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE deployments SET outcome = ?, reason = ?, finished_at = ?, heartbeat_at = ? WHERE id = ?",
                (outcome, reason, _ts(now), _ts(now), deployment_id),
            )

    def deployment(self, deployment_id: int) -> Deployment | None:
        rows = self._query("SELECT * FROM deployments WHERE id = ?", (deployment_id,))
        return self._deployment(rows[0]) if rows else None

    def in_progress(
        self, service: str | None = None, environment: str | None = None
    ) -> list[Deployment]:
        # The literal (not a bound parameter) lets SQLite use the partial index on it.
        sql = f"SELECT * FROM deployments WHERE outcome = '{Outcome.IN_PROGRESS.value}'"
        params: list[Any] = []
        if service:
            sql += " AND service = ?"
            params.append(service)
        if environment:
            sql += " AND environment = ?"
            params.append(environment)
        return [self._deployment(r) for r in self._query(sql + " ORDER BY id", tuple(params))]

    def history(
        self,
        service: str | None = None,
        *,
        limit: int = 50,
        since: datetime | None = None,
        before_id: int | None = None,
        text: str | None = None,
    ) -> list[Deployment]:
        """Newest first, keyset-paged by ``before_id`` (the last id of the previous page)."""
        if limit < 1 or limit > 10_000:
            raise InvalidInput(f"--limit {limit}: expected 1-10000")
        clauses: list[str] = []
        params: list[Any] = []
        if service:
            clauses.append("service = ?")
            params.append(service)
        if since:
            clauses.append("started_at >= ?")
            params.append(_ts(since))
        if before_id is not None:
            clauses.append("id < ?")
            params.append(before_id)
        if text:
            clauses.append(
                "(service LIKE ? OR operator LIKE ? OR outcome LIKE ? OR COALESCE(reason,'') LIKE ?)"
            )
            params.extend([f"%{text}%"] * 4)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._query(
            f"SELECT * FROM deployments {where} ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [self._deployment(r) for r in rows]

    def last_deployment(
        self, service: str, environment: str, kind: str | None = None
    ) -> Deployment | None:
        sql = "SELECT * FROM deployments WHERE service = ? AND environment = ?"
        params: list[Any] = [service, environment]
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        rows = self._query(sql + " ORDER BY id DESC LIMIT 1", tuple(params))
        return self._deployment(rows[0]) if rows else None

    def add_event(
        self,
        deployment_id: int,
        kind: str,
        message: str,
        now: datetime,
        data: dict[str, Any] | None = None,
    ) -> int:
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO events (deployment_id, ts, kind, message, data) VALUES (?, ?, ?, ?, ?)",
                (
                    deployment_id,
                    _ts(now),
                    kind,
                    message,
                    json.dumps(data or {}, sort_keys=True, default=str),
                ),
            )
            db.execute(
                "UPDATE deployments SET heartbeat_at = ? WHERE id = ?", (_ts(now), deployment_id)
            )
            return int(cursor.lastrowid or 0)

    def events(self, deployment_id: int, *, after_id: int = 0, limit: int = 500) -> list[Event]:
        rows = self._query(
            "SELECT * FROM events WHERE deployment_id = ? AND id > ? ORDER BY id LIMIT ?",
            (deployment_id, after_id, limit),
        )
        return [
            Event(
                r["id"],
                r["deployment_id"],
                _dt_required(r["ts"]),
                r["kind"],
                r["message"],
                _json(r["data"], {}),
            )
            for r in rows
        ]

    def latest_event_id(self) -> int:
        rows = self._query("SELECT MAX(id) FROM events")
        return int(rows[0][0] or 0)

    @staticmethod
    def _deployment(row: sqlite3.Row) -> Deployment:
        return Deployment(
            id=row["id"],
            service=row["service"],
            environment=row["environment"],
            strategy=row["strategy"],
            kind=row["kind"],
            from_release=row["from_release"],
            to_release=row["to_release"],
            operator=row["operator"],
            started_at=_dt_required(row["started_at"]),
            finished_at=_dt(row["finished_at"]),
            outcome=Outcome(row["outcome"]),
            reason=row["reason"],
            step=row["step"],
            state=_json(row["state"], {}),
            heartbeat_at=_dt(row["heartbeat_at"]),
        )

    # -- locks ------------------------------------------------------------------

    def try_lock(
        self,
        service: str,
        holder: str,
        reason: str,
        lease_s: float,
        now: datetime,
        *,
        force: bool = False,
    ) -> tuple[Lock | None, Lock | None]:
        """Take the lease. Returns (ours, current_holder_if_refused).

        A stale lease (no heartbeat within ``lease_s``) is not taken silently:
        only ``force`` takes over a lock someone else holds.
        """
        token = uuid.uuid4().hex
        with self._tx() as db:
            db.row_factory = sqlite3.Row
            try:
                existing = db.execute(
                    "SELECT * FROM locks WHERE service = ?", (service,)
                ).fetchone()
                if existing is not None and not force:
                    return None, self._lock_row(existing)
                db.execute(
                    "INSERT OR REPLACE INTO locks (service, holder, since, reason, heartbeat_at, lease_s, token)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (service, holder, _ts(now), reason, _ts(now), lease_s, token),
                )
            finally:
                db.row_factory = None
        return Lock(service, holder, now, reason, now, lease_s, token), None

    def heartbeat_lock(self, service: str, token: str, now: datetime) -> bool:
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE locks SET heartbeat_at = ? WHERE service = ? AND token = ?",
                (_ts(now), service, token),
            )
            return cursor.rowcount == 1

    def release_lock(self, service: str, token: str | None = None) -> bool:
        with self._tx() as db:
            if token is None:
                cursor = db.execute("DELETE FROM locks WHERE service = ?", (service,))
            else:
                cursor = db.execute(
                    "DELETE FROM locks WHERE service = ? AND token = ?", (service, token)
                )
            return cursor.rowcount == 1

    def lock(self, service: str) -> Lock | None:
        rows = self._query("SELECT * FROM locks WHERE service = ?", (service,))
        return self._lock_row(rows[0]) if rows else None

    def locks(self) -> list[Lock]:
        return [self._lock_row(r) for r in self._query("SELECT * FROM locks ORDER BY service")]

    @staticmethod
    def _lock_row(row: sqlite3.Row) -> Lock:
        return Lock(
            service=row["service"],
            holder=row["holder"],
            since=_dt_required(row["since"]),
            reason=row["reason"],
            heartbeat_at=_dt_required(row["heartbeat_at"]),
            lease_s=_float(row["lease_s"]),
            token=row["token"],
        )

    # -- traffic (what is live) --------------------------------------------------------

    def traffic(self, service: str, environment: str) -> TrafficRecord | None:
        rows = self._query(
            "SELECT * FROM traffic WHERE service = ? AND environment = ?", (service, environment)
        )
        if not rows:
            return None
        r = rows[0]
        return TrafficRecord(
            r["service"],
            r["environment"],
            r["live_color"],
            r["blue_release"],
            r["green_release"],
            r["canary_release"],
            r["canary_weight_pct"],
            _dt_required(r["updated_at"]),
        )

    def set_traffic(self, record: TrafficRecord) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO traffic (service, environment, live_color, blue_release, green_release,"
                " canary_release, canary_weight_pct, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.service,
                    record.environment,
                    record.live_color,
                    record.blue_release,
                    record.green_release,
                    record.canary_release,
                    record.canary_weight_pct,
                    _ts(record.updated_at),
                ),
            )

    # -- flags audit, generic audit, drills -------------------------------------------------

    def record_flag_change(
        self,
        flag_key: str,
        environment: str | None,
        operator: str,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
        now: datetime | None = None,
    ) -> None:
        at = now or datetime.now(UTC)
        with self._tx() as db:
            db.execute(
                "INSERT INTO flag_changes (flag_key, environment, operator, at, old, new) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    flag_key,
                    environment,
                    operator,
                    _ts(at),
                    None if old is None else json.dumps(old, sort_keys=True, default=str),
                    None if new is None else json.dumps(new, sort_keys=True, default=str),
                ),
            )

    def flag_changes(self, flag_key: str, limit: int = 50) -> list[FlagChange]:
        rows = self._query(
            "SELECT * FROM flag_changes WHERE flag_key = ? ORDER BY id DESC LIMIT ?",
            (flag_key, limit),
        )
        return [
            FlagChange(
                r["id"],
                r["flag_key"],
                r["environment"],
                r["operator"],
                _dt_required(r["at"]),
                _json(r["old"]),
                _json(r["new"]),
            )
            for r in rows
        ]

    def audit(self, operator: str, action: str, subject: str, detail: str, now: datetime) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO audit (at, operator, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
                (_ts(now), operator, action, subject, detail),
            )

    def audit_entries(self, limit: int = 100) -> list[AuditEntry]:
        rows = self._query("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return [
            AuditEntry(
                r["id"],
                _dt_required(r["at"]),
                r["operator"],
                r["action"],
                r["subject"],
                r["detail"],
            )
            for r in rows
        ]

    def record_drill(
        self,
        service: str,
        environment: str,
        outcome: str,
        rollback_s: float | None,
        rollforward_s: float | None,
        detail: str,
        now: datetime,
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO drills (service, environment, at, outcome, rollback_s, rollforward_s, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (service, environment, _ts(now), outcome, rollback_s, rollforward_s, detail),
            )

    def last_drill(
        self, service: str, environment: str, *, successful: bool = True
    ) -> Drill | None:
        sql = "SELECT * FROM drills WHERE service = ? AND environment = ?"
        if successful:
            sql += f" AND outcome = '{Outcome.SUCCEEDED.value}'"
        rows = self._query(sql + " ORDER BY at DESC LIMIT 1", (service, environment))
        if not rows:
            return None
        r = rows[0]
        return Drill(
            r["id"],
            r["service"],
            r["environment"],
            _dt_required(r["at"]),
            Outcome(r["outcome"]),
            r["rollback_s"],
            r["rollforward_s"],
            r["detail"],
        )
