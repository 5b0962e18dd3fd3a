"""The store every caller depends on.

One implementation family: ``SqlStore`` holds every operation's SQL once and a
backend (SQLite, PostgreSQL) supplies the connection, so the type callers name
is that base class; a second, protocol-only copy of ~40 signatures would only
drift from it.
"""

from __future__ import annotations

from console.core.store.sql import SqlStore as StateStore

__all__ = ["StateStore"]
