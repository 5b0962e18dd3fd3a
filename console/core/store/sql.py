"""What the SQLite and PostgreSQL stores share: the SQL of every operation and
the row → record mapping, written once.

A backend supplies a connection (``_tx`` for one write transaction, ``_query``
for one read), its schema and migrations, and the mapping of its driver's
errors; ``SqlStore`` does the rest with SQL both engines run unchanged (``?``
placeholders, which the PostgreSQL backend turns into ``%s``; so no literal
``?`` or ``%`` may appear in the SQL here). Values are written the same way on
both (timestamps as ISO 8601 UTC text, JSON as text: PostgreSQL casts them to
``timestamptz``/``jsonb``) and read back by the same mapping, which accepts
either the text SQLite returns or the typed value PostgreSQL returns.

It must never import a database driver: that is what the backends are for.
"""

from __future__ import annotations

import abc
import functools
import inspect
import json
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from console.core.errors import InvalidInput, ShipdeckError, StateStoreError
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

# The tables in the order a copy must fill them (every reference points backwards).
TABLES: tuple[str, ...] = (
    "releases",
    "deployments",
    "events",
    "locks",
    "flag_changes",
    "audit",
    "traffic",
    "drills",
)


class Row(Protocol):
    """A result row readable by column name (``sqlite3.Row`` or a psycopg dict row)."""

    def __getitem__(self, key: str, /) -> Any: ...

    def keys(self) -> Any: ...


class Runner(Protocol):
    """Runs SQL inside one transaction of a backend."""

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Execute ``sql``; the number of rows it changed."""
        ...

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Row]: ...


class CorruptValue(Exception):
    """A stored value that cannot be decoded (a tampered or damaged row)."""


def ts(moment: datetime | None) -> str | None:
    """How a timestamp is written: ISO 8601 in UTC with microseconds (sorts as text)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def dt(value: str | datetime | None) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise CorruptValue(f"a timestamp is not ISO 8601: {str(value)[:40]!r}") from None


def dt_required(value: str | datetime | None) -> datetime:
    """A timestamp of a NOT NULL column: missing means the row is corrupt, not "never"."""
    moment = dt(value)
    if moment is None:
        raise CorruptValue("a required timestamp is empty")
    return moment


def from_json(value: Any, default: Any = None) -> Any:
    """A JSON column: text (SQLite) or already decoded (PostgreSQL ``jsonb``)."""
    if not value:
        return default
    if not isinstance(value, str | bytes):
        return value
    try:
        return json.loads(value)
    except (TypeError, ValueError, RecursionError):
        raise CorruptValue(f"a JSON column is not JSON: {str(value)[:40]!r}") from None


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise CorruptValue(f"a number column is not a number: {str(value)[:40]!r}") from None


def release_of(row: Row) -> Release:
    return Release(
        id=row["id"],
        service=row["service"],
        environment=row["environment"],
        image_ref=row["image_ref"],
        tag=row["tag"],
        created_at=dt_required(row["created_at"]),
        first_deployed_at=dt(row["first_deployed_at"]),
        last_live_at=dt(row["last_live_at"]),
        last_healthy_at=dt(row["last_healthy_at"]),
        labels=from_json(row["labels"], {}),
    )


def deployment_of(row: Row) -> Deployment:
    return Deployment(
        id=row["id"],
        service=row["service"],
        environment=row["environment"],
        strategy=row["strategy"],
        kind=row["kind"],
        from_release=row["from_release"],
        to_release=row["to_release"],
        operator=row["operator"],
        started_at=dt_required(row["started_at"]),
        finished_at=dt(row["finished_at"]),
        outcome=Outcome(row["outcome"]),
        reason=row["reason"],
        step=row["step"],
        state=from_json(row["state"], {}),
        heartbeat_at=dt(row["heartbeat_at"]),
    )


def lock_of(row: Row) -> Lock:
    return Lock(
        service=row["service"],
        holder=row["holder"],
        since=dt_required(row["since"]),
        reason=row["reason"],
        heartbeat_at=dt_required(row["heartbeat_at"]),
        lease_s=number(row["lease_s"]),
        token=row["token"],
    )


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _store_errors(method: _Method) -> _Method:
    """Turn every driver error (and an undecodable row) into a ``ShipdeckError``."""

    @functools.wraps(method)
    def guarded(self: SqlStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except ShipdeckError:
            raise
        except CorruptValue as error:
            raise StateStoreError(
                f"state store {self.location} is corrupt or unreadable: {error}"
            ) from error
        except Exception as error:
            mapped = self._failure(error)
            if mapped is None:
                raise
            raise mapped from error

    return guarded  # type: ignore[return-value]


_Store = TypeVar("_Store", bound=type)


def guard_public_methods(cls: _Store) -> _Store:
    """Apply the error mapping to every public method a backend has (its own and
    ``SqlStore``'s), so a new one cannot forget it."""
    for name in dir(cls):
        member = getattr(cls, name)
        if not name.startswith("_") and inspect.isfunction(member):
            setattr(cls, name, _store_errors(member))
    return cls


_TRAFFIC_COLUMNS = (
    "service, environment, live_color, blue_release, green_release,"
    " canary_release, canary_weight_pct, updated_at"
)


class SqlStore(abc.ABC):
    """Every ``StateStore`` operation over a backend's ``_tx``/``_query``.

    Not a store by itself: a backend subclass supplies the connection, the
    schema and ``_failure`` (its driver's errors → ``ShipdeckError``), and is
    decorated with ``guard_public_methods``.
    """

    location: str = ""  # what an error message names: a file, or host:port/db
    _like = "LIKE"  # history's text search: case-insensitive for ASCII on both

    # -- what a backend supplies ----------------------------------------------------

    @abc.abstractmethod
    def _tx(self) -> AbstractContextManager[Runner]: ...

    @abc.abstractmethod
    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Row]: ...

    @abc.abstractmethod
    def _failure(self, error: Exception) -> ShipdeckError | None:
        """The store error a driver error means (None: not a driver error)."""
        ...

    @abc.abstractmethod
    def schema_version(self) -> int:
        """The schema version the database holds now."""
        ...

    @abc.abstractmethod
    def migrate(self) -> int:
        """Bring the schema to this shipdeck's version; returns it."""
        ...

    @abc.abstractmethod
    def close(self) -> None: ...

    def _exclusive(self, db: Runner, key: str) -> None:  # noqa: B027 - a no-op by default
        """Serialize transactions about ``key`` until this one ends (SQLite's
        ``BEGIN IMMEDIATE`` already serializes every writer, so by default: nothing)."""

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
            db.run(
                "INSERT INTO releases (service, environment, image_ref, tag, created_at, labels)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (service, environment, image_ref) DO NOTHING",
                (service, environment, image_ref, tag, ts(now), to_json(labels or {})),
            )
            if tag:
                db.run(
                    "UPDATE releases SET tag = ? WHERE service = ? AND environment = ? AND image_ref = ? AND tag IS NULL",
                    (tag, service, environment, image_ref),
                )
        rows = self._query(
            "SELECT * FROM releases WHERE service = ? AND environment = ? AND image_ref = ?",
            (service, environment, image_ref),
        )
        return release_of(rows[0])

    def release(self, release_id: int) -> Release | None:
        rows = self._query("SELECT * FROM releases WHERE id = ?", (release_id,))
        return release_of(rows[0]) if rows else None

    def releases(self, service: str, environment: str, limit: int = 50) -> list[Release]:
        rows = self._query(
            "SELECT * FROM releases WHERE service = ? AND environment = ?"
            " ORDER BY COALESCE(last_live_at, created_at) DESC, id DESC LIMIT ?",
            (service, environment, limit),
        )
        return [release_of(r) for r in rows]

    def mark_release(
        self, release_id: int, now: datetime, *, live: bool = False, healthy: bool = False
    ) -> None:
        with self._tx() as db:
            if live:
                db.run(
                    "UPDATE releases SET last_live_at = ?, first_deployed_at = COALESCE(first_deployed_at, ?)"
                    " WHERE id = ?",
                    (ts(now), ts(now), release_id),
                )
            if healthy:
                db.run(
                    "UPDATE releases SET last_healthy_at = ? WHERE id = ?", (ts(now), release_id)
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
            rows = db.rows(
                "INSERT INTO deployments (service, environment, strategy, kind, from_release, to_release,"
                " operator, started_at, heartbeat_at, state, step) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " RETURNING id",
                (
                    service,
                    environment,
                    strategy,
                    kind,
                    from_release,
                    to_release,
                    operator,
                    ts(now),
                    ts(now),
                    json.dumps(state or {}, sort_keys=True),
                    "started",
                ),
            )
            return int(rows[0]["id"])

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
        params: list[Any] = [ts(now)]
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
            db.run(f"UPDATE deployments SET {', '.join(sets)} WHERE id = ?", tuple(params))

    def finish_deployment(
        self, deployment_id: int, outcome: str, reason: str | None, now: datetime
    ) -> None:
        with self._tx() as db:
            db.run(
                "UPDATE deployments SET outcome = ?, reason = ?, finished_at = ?, heartbeat_at = ? WHERE id = ?",
                (str(outcome), reason, ts(now), ts(now), deployment_id),
            )

    def deployment(self, deployment_id: int) -> Deployment | None:
        rows = self._query("SELECT * FROM deployments WHERE id = ?", (deployment_id,))
        return deployment_of(rows[0]) if rows else None

    def in_progress(
        self, service: str | None = None, environment: str | None = None
    ) -> list[Deployment]:
        # The literal (not a bound parameter) lets the planner use the partial index on it.
        sql = f"SELECT * FROM deployments WHERE outcome = '{Outcome.IN_PROGRESS.value}'"
        params: list[Any] = []
        if service:
            sql += " AND service = ?"
            params.append(service)
        if environment:
            sql += " AND environment = ?"
            params.append(environment)
        return [deployment_of(r) for r in self._query(sql + " ORDER BY id", tuple(params))]

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
            params.append(ts(since))
        if before_id is not None:
            clauses.append("id < ?")
            params.append(before_id)
        if text:
            like = self._like
            clauses.append(
                f"(service {like} ? OR operator {like} ? OR outcome {like} ?"
                f" OR COALESCE(reason,'') {like} ?)"
            )
            params.extend(["%" + text + "%"] * 4)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._query(
            f"SELECT * FROM deployments {where} ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [deployment_of(r) for r in rows]

    def last_deployment(
        self, service: str, environment: str, kind: str | None = None
    ) -> Deployment | None:
        sql = "SELECT * FROM deployments WHERE service = ? AND environment = ?"
        params: list[Any] = [service, environment]
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        rows = self._query(sql + " ORDER BY id DESC LIMIT 1", tuple(params))
        return deployment_of(rows[0]) if rows else None

    def add_event(
        self,
        deployment_id: int,
        kind: str,
        message: str,
        now: datetime,
        data: dict[str, Any] | None = None,
    ) -> int:
        with self._tx() as db:
            rows = db.rows(
                "INSERT INTO events (deployment_id, ts, kind, message, data) VALUES (?, ?, ?, ?, ?)"
                " RETURNING id",
                (deployment_id, ts(now), kind, message, to_json(data or {})),
            )
            db.run("UPDATE deployments SET heartbeat_at = ? WHERE id = ?", (ts(now), deployment_id))
            return int(rows[0]["id"])

    def events(self, deployment_id: int, *, after_id: int = 0, limit: int = 500) -> list[Event]:
        rows = self._query(
            "SELECT * FROM events WHERE deployment_id = ? AND id > ? ORDER BY id LIMIT ?",
            (deployment_id, after_id, limit),
        )
        return [
            Event(
                r["id"],
                r["deployment_id"],
                dt_required(r["ts"]),
                r["kind"],
                r["message"],
                from_json(r["data"], {}),
            )
            for r in rows
        ]

    def latest_event_id(self) -> int:
        rows = self._query("SELECT MAX(id) AS latest FROM events")
        return int(rows[0]["latest"] or 0)

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
            self._exclusive(db, f"lock:{service}")
            existing = db.rows("SELECT * FROM locks WHERE service = ?", (service,))
            if existing and not force:
                return None, lock_of(existing[0])
            db.run(
                "INSERT INTO locks (service, holder, since, reason, heartbeat_at, lease_s, token)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (service) DO UPDATE SET"
                " holder = excluded.holder, since = excluded.since, reason = excluded.reason,"
                " heartbeat_at = excluded.heartbeat_at, lease_s = excluded.lease_s,"
                " token = excluded.token",
                (service, holder, ts(now), reason, ts(now), lease_s, token),
            )
        return Lock(service, holder, now, reason, now, lease_s, token), None

    def heartbeat_lock(self, service: str, token: str, now: datetime) -> bool:
        with self._tx() as db:
            changed = db.run(
                "UPDATE locks SET heartbeat_at = ? WHERE service = ? AND token = ?",
                (ts(now), service, token),
            )
            return changed == 1

    def release_lock(self, service: str, token: str | None = None) -> bool:
        with self._tx() as db:
            if token is None:
                changed = db.run("DELETE FROM locks WHERE service = ?", (service,))
            else:
                changed = db.run(
                    "DELETE FROM locks WHERE service = ? AND token = ?", (service, token)
                )
            return changed == 1

    def lock(self, service: str) -> Lock | None:
        rows = self._query("SELECT * FROM locks WHERE service = ?", (service,))
        return lock_of(rows[0]) if rows else None

    def locks(self) -> list[Lock]:
        return [lock_of(r) for r in self._query("SELECT * FROM locks ORDER BY service")]

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
            dt_required(r["updated_at"]),
        )

    def set_traffic(self, record: TrafficRecord) -> None:
        with self._tx() as db:
            db.run(
                f"INSERT INTO traffic ({_TRAFFIC_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (service, environment) DO UPDATE SET"
                " live_color = excluded.live_color, blue_release = excluded.blue_release,"
                " green_release = excluded.green_release, canary_release = excluded.canary_release,"
                " canary_weight_pct = excluded.canary_weight_pct, updated_at = excluded.updated_at",
                (
                    record.service,
                    record.environment,
                    record.live_color,
                    record.blue_release,
                    record.green_release,
                    record.canary_release,
                    record.canary_weight_pct,
                    ts(record.updated_at),
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
            db.run(
                "INSERT INTO flag_changes (flag_key, environment, operator, at, old, new) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    flag_key,
                    environment,
                    operator,
                    ts(at),
                    None if old is None else to_json(old),
                    None if new is None else to_json(new),
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
                dt_required(r["at"]),
                from_json(r["old"]),
                from_json(r["new"]),
            )
            for r in rows
        ]

    def audit(self, operator: str, action: str, subject: str, detail: str, now: datetime) -> None:
        with self._tx() as db:
            db.run(
                "INSERT INTO audit (at, operator, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
                (ts(now), operator, action, subject, detail),
            )

    def audit_entries(self, limit: int = 100) -> list[AuditEntry]:
        rows = self._query("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return [
            AuditEntry(
                r["id"],
                dt_required(r["at"]),
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
            db.run(
                "INSERT INTO drills (service, environment, at, outcome, rollback_s, rollforward_s, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (service, environment, ts(now), str(outcome), rollback_s, rollforward_s, detail),
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
            dt_required(r["at"]),
            Outcome(r["outcome"]),
            r["rollback_s"],
            r["rollforward_s"],
            r["detail"],
        )

    # -- copying between stores (``shipdeck state migrate``) --------------------------

    def export_rows(self, table: str) -> list[Row]:
        """Every row of ``table`` (one of ``TABLES``) in id order, as stored."""
        if table not in TABLES:
            raise StateStoreError(f"state store {self.location}: no table {table!r}")
        order = {"traffic": "service, environment", "locks": "service"}.get(table, "id")
        return self._query(f"SELECT * FROM {table} ORDER BY {order}")
