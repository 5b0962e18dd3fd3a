"""Errors raised by engines. Engines know nothing of console/, so the console
maps these to its own ``ShipdeckError`` kinds (unreachable → exit 4,
failed → exit 1). Every message names the host or component and the cause."""

from __future__ import annotations


class EngineError(Exception):
    """Base of every engine failure; ``target`` names the host/LB/source."""

    def __init__(self, target: str, cause: str) -> None:
        super().__init__(f"{target}: {cause}")
        self.target = target
        self.cause = cause


class TargetUnreachable(EngineError):
    """The host, LB or metrics source could not be reached or refused us
    (connection refused, timeout, host key mismatch, socket missing)."""


class EngineOperationFailed(EngineError):
    """The target answered but the operation failed (container exited, health
    timed out, image missing, config rejected by the LB's checker)."""


class InvalidTargetInput(EngineError):
    """Input that would be unsafe to pass on (a name, address or port that does
    not validate); refused before anything is touched."""
