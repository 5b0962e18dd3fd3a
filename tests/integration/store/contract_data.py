"""Fixed values the store tests share."""

from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
REF = "127.0.0.1:5000/demo@sha256:" + "a" * 64
REF2 = "127.0.0.1:5000/demo@sha256:" + "b" * 64
