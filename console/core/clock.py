"""The one injectable clock and the operator identity.

Time comes from here so tests can freeze it; datetimes are always aware UTC.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


@dataclass
class Clock:
    """Wall clock plus a monotonic clock; ``frozen_at`` pins wall time in tests."""

    frozen_at: datetime | None = None
    _offset_s: float = field(default=0.0, repr=False)

    def now(self) -> datetime:
        if self.frozen_at is not None:
            return self.frozen_at
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic() + self._offset_s

    def advance(self, seconds: float) -> None:
        """Move a frozen clock forward (tests)."""
        self._offset_s += seconds
        if self.frozen_at is not None:
            self.frozen_at = self.frozen_at + timedelta(seconds=seconds)


def operator_identity(env: dict[str, str] | None = None) -> str:
    """``$SHIPDECK_OPERATOR``, else ``user@hostname``: who the audit trail names."""
    environ = os.environ if env is None else env
    explicit = environ.get("SHIPDECK_OPERATOR", "").strip()
    if explicit:
        return explicit
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with a Z suffix, the one timestamp format of JSON output."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 timestamp (``Z`` allowed); naive values are taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
