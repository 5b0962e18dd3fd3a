"""The store interface every caller depends on (SQLite today, PostgreSQL later)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

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


class StateStore(Protocol):
    """What operations need from persistent state."""

    def schema_version(self) -> int: ...

    def migrate(self) -> int: ...

    def close(self) -> None: ...

    def record_release(
        self,
        service: str,
        environment: str,
        image_ref: str,
        tag: str | None,
        now: datetime,
        labels: dict[str, str] | None = None,
    ) -> Release: ...

    def release(self, release_id: int) -> Release | None: ...

    def releases(self, service: str, environment: str, limit: int = 50) -> list[Release]: ...

    def mark_release(
        self, release_id: int, now: datetime, *, live: bool = False, healthy: bool = False
    ) -> None: ...

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
    ) -> int: ...

    def update_deployment(
        self,
        deployment_id: int,
        now: datetime,
        *,
        step: str | None = None,
        state: dict[str, Any] | None = None,
        to_release: int | None = None,
    ) -> None: ...

    def finish_deployment(
        self, deployment_id: int, outcome: str, reason: str | None, now: datetime
    ) -> None:
        """``outcome`` is an ``Outcome`` (plain strings are accepted while ops still pass them)."""
        ...

    def deployment(self, deployment_id: int) -> Deployment | None: ...

    def in_progress(
        self, service: str | None = None, environment: str | None = None
    ) -> list[Deployment]: ...

    def history(
        self,
        service: str | None = None,
        *,
        limit: int = 50,
        since: datetime | None = None,
        before_id: int | None = None,
        text: str | None = None,
    ) -> list[Deployment]: ...

    def last_deployment(
        self, service: str, environment: str, kind: str | None = None
    ) -> Deployment | None: ...

    def add_event(
        self,
        deployment_id: int,
        kind: str,
        message: str,
        now: datetime,
        data: dict[str, Any] | None = None,
    ) -> int: ...

    def events(self, deployment_id: int, *, after_id: int = 0, limit: int = 500) -> list[Event]: ...

    def latest_event_id(self) -> int: ...

    def try_lock(
        self,
        service: str,
        holder: str,
        reason: str,
        lease_s: float,
        now: datetime,
        *,
        force: bool = False,
    ) -> tuple[Lock | None, Lock | None]: ...

    def heartbeat_lock(self, service: str, token: str, now: datetime) -> bool: ...

    def release_lock(self, service: str, token: str | None = None) -> bool: ...

    def lock(self, service: str) -> Lock | None: ...

    def locks(self) -> list[Lock]: ...

    def traffic(self, service: str, environment: str) -> TrafficRecord | None: ...

    def set_traffic(self, record: TrafficRecord) -> None: ...

    def record_flag_change(
        self,
        flag_key: str,
        environment: str | None,
        operator: str,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
        now: datetime | None = None,
    ) -> None: ...

    def flag_changes(self, flag_key: str, limit: int = 50) -> list[FlagChange]: ...

    def audit(
        self, operator: str, action: str, subject: str, detail: str, now: datetime
    ) -> None: ...

    def audit_entries(self, limit: int = 100) -> list[AuditEntry]: ...

    def record_drill(
        self,
        service: str,
        environment: str,
        outcome: str,
        rollback_s: float | None,
        rollforward_s: float | None,
        detail: str,
        now: datetime,
    ) -> None: ...

    def last_drill(
        self, service: str, environment: str, *, successful: bool = True
    ) -> Drill | None: ...
