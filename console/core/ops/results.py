"""What every production-changing operation returns.

The CLI maps a result to its exit code and prints ``to_dict()`` as JSON; the
console shows it. One base, so every operation answers both the same way.
"""

from __future__ import annotations

from typing import Any, ClassVar

from console.core.errors import ExitCode
from console.core.store.model import Outcome


class OperationResult:
    """Mixin for the result dataclasses of deploy, rollback, pipeline and drill."""

    outcome: str
    # Outcomes that mean "nothing went wrong" (a dry run's plan included).
    OK_OUTCOMES: ClassVar[tuple[str, ...]] = (Outcome.SUCCEEDED, Outcome.PLANNED)
    # Fields left out of the JSON document while empty (added after scripts
    # already depended on the document's shape).
    OMIT_WHEN_EMPTY: ClassVar[tuple[str, ...]] = ()

    @property
    def exit_code(self) -> int:
        return int(ExitCode.OK if self.outcome in self.OK_OUTCOMES else ExitCode.FAILED)

    def to_dict(self) -> dict[str, Any]:
        return {
            key: value
            for key, value in self.__dict__.items()
            if not (key in self.OMIT_WHEN_EMPTY and not value)
        }
