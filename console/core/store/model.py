"""Records kept by the state store. Plain frozen dataclasses, no storage logic."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """How a deployment, drill or operation ended (or that it has not yet).

    A ``StrEnum`` because the values are what SQLite stores and JSON prints:
    ``Outcome.ROLLED_BACK == "rolled_back"``, so old rows, scripts and code still
    passing the plain strings all keep working.
    """

    SUCCEEDED = "succeeded"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"
    ABORTED = "aborted"
    IN_PROGRESS = "in_progress"
    PLANNED = "planned"  # a dry run: the plan was printed, nothing changed

    @property
    def finished(self) -> bool:
        return self is not Outcome.IN_PROGRESS


@dataclass(frozen=True)
class Release:
    """An immutable artifact: a digest, whatever tag it was deployed by."""

    id: int
    service: str
    environment: str
    image_ref: str  # repository@sha256:...
    tag: str | None
    created_at: datetime
    first_deployed_at: datetime | None = None
    last_live_at: datetime | None = None
    last_healthy_at: datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Short human name: the tag if known, else the digest prefix."""
        if self.tag:
            return self.tag
        return self.digest[7:19] if self.digest.startswith("sha256:") else self.image_ref

    @property
    def digest(self) -> str:
        return self.image_ref.rpartition("@")[2]


@dataclass(frozen=True)
class Deployment:
    id: int
    service: str
    environment: str
    strategy: str
    kind: str  # deploy | rollback | drill | pipeline
    from_release: int | None
    to_release: int | None
    operator: str
    started_at: datetime
    finished_at: datetime | None
    outcome: Outcome
    reason: str | None
    step: str | None
    state: dict[str, Any]
    heartbeat_at: datetime | None

    @property
    def duration_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class Event:
    id: int
    deployment_id: int
    ts: datetime
    kind: str
    message: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Lock:
    service: str
    holder: str
    since: datetime
    reason: str
    heartbeat_at: datetime
    lease_s: float
    token: str

    def is_stale(self, now: datetime) -> bool:
        return (now - self.heartbeat_at).total_seconds() > self.lease_s


@dataclass(frozen=True)
class TrafficRecord:
    """What shipdeck last made live for one service in one environment."""

    service: str
    environment: str
    live_color: str | None
    blue_release: int | None
    green_release: int | None
    canary_release: int | None
    canary_weight_pct: int
    updated_at: datetime

    def release_of(self, color: str) -> int | None:
        return {
            "blue": self.blue_release,
            "green": self.green_release,
            "canary": self.canary_release,
        }[color]


@dataclass(frozen=True)
class FlagChange:
    id: int
    flag_key: str
    environment: str | None
    operator: str
    at: datetime
    old: dict[str, Any] | None
    new: dict[str, Any] | None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    operator: str
    action: str
    subject: str
    detail: str


@dataclass(frozen=True)
class Drill:
    id: int
    service: str
    environment: str
    at: datetime
    outcome: Outcome
    rollback_s: float | None
    rollforward_s: float | None
    detail: str
