"""The state store: releases, deployments, events, locks, traffic, audit.

Callers depend on the ``StateStore`` protocol, so a shared PostgreSQL store can
be added later without touching them; ``open_store`` picks the implementation.
"""

from __future__ import annotations

from pathlib import Path

from console.core.store.interface import StateStore
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
from console.core.store.sqlite import SqliteStore


def open_store(path: Path | str) -> StateStore:
    """Open (and migrate) the store at ``path``; today always SQLite."""
    return SqliteStore(path)


__all__ = [
    "AuditEntry",
    "Deployment",
    "Drill",
    "Event",
    "FlagChange",
    "Lock",
    "Outcome",
    "Release",
    "SqliteStore",
    "StateStore",
    "TrafficRecord",
    "open_store",
]
