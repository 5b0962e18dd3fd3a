"""The state store: releases, deployments, events, locks, traffic, audit.

Callers depend on the ``StateStore`` protocol: ``open_store`` opens the
embedded SQLite file, ``open_shared_store`` a team's PostgreSQL database
(imported only then, so a one-person shipdeck never loads psycopg).
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
    """Open (and migrate) the SQLite store at ``path``."""
    return SqliteStore(path)


def open_shared_store(url: str) -> StateStore:
    """Connect to (and migrate) the PostgreSQL store at ``url`` (no password in it)."""
    from console.core.store.postgres import PostgresStore

    return PostgresStore(url)


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
    "open_shared_store",
    "open_store",
]
