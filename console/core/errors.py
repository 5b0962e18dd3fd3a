"""The one exception hierarchy of shipdeck, and the exit codes scripts rely on.

Every failure a user can cause or meet is a ``ShipdeckError`` with a one-line
message and an exit code. The CLI maps it to stderr and ``exit_code``; the TUI
to a notification. Nothing else may decide exit codes.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Stable exit codes (documented in the README and ``shipdeck --help``)."""

    OK = 0
    FAILED = 1  # the operation failed (a deploy: it was rolled back)
    INVALID = 2  # invalid input or config
    BLOCKED = 3  # lock held, precondition unmet, confirmation refused, inconclusive
    UNREACHABLE = 4  # host, load balancer or metrics source unreachable


class ShipdeckError(Exception):
    """A failure with a one-line cause and the exit code it maps to."""

    exit_code: ExitCode = ExitCode.FAILED
    code: str = "failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message.splitlines()[0] if message else self.code

    def __str__(self) -> str:
        return self.message


class InvalidInput(ShipdeckError):
    exit_code = ExitCode.INVALID
    code = "invalid"


class ConfigInvalid(InvalidInput):
    """Config validation failed; carries every error, one line each."""

    code = "config_invalid"

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        first = errors[0] if errors else "invalid config"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(first + more)


class Blocked(ShipdeckError):
    exit_code = ExitCode.BLOCKED
    code = "blocked"


class Unreachable(ShipdeckError):
    exit_code = ExitCode.UNREACHABLE
    code = "unreachable"


class OperationFailed(ShipdeckError):
    exit_code = ExitCode.FAILED
    code = "failed"


class StateStoreError(ShipdeckError):
    """The state store (``state.db``) cannot be used: corrupt, not a database,
    unreadable or unwritable, busy. The message names the file."""

    exit_code = ExitCode.FAILED
    code = "state_store"


class StateStoreUnreachable(StateStoreError):
    """The shared state store (PostgreSQL) cannot be reached, or refused the login.
    The message names ``host:port/database``, never a password."""

    exit_code = ExitCode.UNREACHABLE
    code = "state_store_unreachable"
