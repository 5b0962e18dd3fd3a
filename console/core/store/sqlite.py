"""The embedded state store: SQLite in WAL mode, versioned migrations on open.

Several processes write it at once (a TUI and an on-call's CLI), so every
write is a short transaction and the lock is a lease taken with one atomic
statement. History is paged by keyset (never OFFSET, never a full scan), so a
million events cost the same as ten.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from console.core.errors import InvalidInput, Unreachable
from console.core.store.model import (
    AuditEntry,
    Deployment,
    Drill,
    Event,
    FlagChange,
    Lock,
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


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class SqliteStore:
    """State store on one SQLite file; safe to share across threads of one process."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise Unreachable(
                    f"state store {self.path}: cannot create directory: {error.strerror}"
                ) from None
        try:
            self._db = sqlite3.connect(
                str(path), timeout=10.0, check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=10000")
        except sqlite3.Error as error:
            raise Unreachable(f"state store {self.path}: cannot open: {error}") from None
        self._lock = threading.RLock()
        self.migrate()

    # -- plumbing -------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

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
            created_at=_dt(row["created_at"]),  # type: ignore[arg-type]
            first_deployed_at=_dt(row["first_deployed_at"]),
            last_live_at=_dt(row["last_live_at"]),
            last_healthy_at=_dt(row["last_healthy_at"]),
            labels=json.loads(row["labels"] or "{}"),
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
        sql = "SELECT * FROM deployments WHERE outcome = 'in_progress'"
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
                _dt(r["ts"]),
                r["kind"],
                r["message"],
                json.loads(r["data"]),
            )  # type: ignore[arg-type]
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
            started_at=_dt(row["started_at"]),  # type: ignore[arg-type]
            finished_at=_dt(row["finished_at"]),
            outcome=row["outcome"],
            reason=row["reason"],
            step=row["step"],
            state=json.loads(row["state"] or "{}"),
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
            since=_dt(row["since"]),  # type: ignore[arg-type]
            reason=row["reason"],
            heartbeat_at=_dt(row["heartbeat_at"]),  # type: ignore[arg-type]
            lease_s=float(row["lease_s"]),
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
            _dt(r["updated_at"]),  # type: ignore[arg-type]
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
                _dt(r["at"]),  # type: ignore[arg-type]
                json.loads(r["old"]) if r["old"] else None,
                json.loads(r["new"]) if r["new"] else None,
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
            AuditEntry(r["id"], _dt(r["at"]), r["operator"], r["action"], r["subject"], r["detail"])
            for r in rows
        ]  # type: ignore[arg-type]

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
            sql += " AND outcome = 'succeeded'"
        rows = self._query(sql + " ORDER BY at DESC LIMIT 1", (service, environment))
        if not rows:
            return None
        r = rows[0]
        return Drill(
            r["id"],
            r["service"],
            r["environment"],
            _dt(r["at"]),
            r["outcome"],
            r["rollback_s"],
            r["rollforward_s"],
            r["detail"],
        )  # type: ignore[arg-type]
