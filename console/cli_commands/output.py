"""How the headless face prints: human text, one JSON document, or JSON Lines.

Scripts parse stdout, so with ``--json`` nothing but JSON is ever printed
there; errors go to stderr (and, with ``--json``, also as a JSON document).

Text meant for a terminal never carries a control character: commands pass
operator-supplied fields through ``console.core.text.printable`` (so a smuggled
newline cannot forge a line), and every text write here escapes whatever a
terminal would still obey (``\x1b``, ``\r``, bidi overrides). JSON keeps the
strings as they are; ``json.dumps`` escapes them.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from console.core.text import printable, printable_block


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if hasattr(value, "__fspath__"):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def to_json(document: Any) -> str:
    return json.dumps(document, default=_default, sort_keys=False)


class Output:
    """The one writer of stdout/stderr for a CLI invocation."""

    def __init__(
        self, json_mode: bool, stdout: TextIO | None = None, stderr: TextIO | None = None
    ) -> None:
        self.json_mode = json_mode
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr

    def document(self, document: Any, text: str) -> None:
        """A short command's result: JSON with ``--json``, else ``text``."""
        if self.json_mode:
            self.stdout.write(to_json(document) + "\n")
        elif text:
            self.stdout.write(printable_block(text.rstrip("\n")) + "\n")
        self.stdout.flush()

    def line(self, text: str) -> None:
        """Human progress text; silent in JSON mode (stdout stays pure JSON)."""
        if not self.json_mode:
            self.stdout.write(printable_block(text) + "\n")
            self.stdout.flush()

    def event(self, name: str, text: str | None = None, **fields: Any) -> None:
        """One JSON Lines event for long-running commands (``event`` and ``ts`` first)."""
        if self.json_mode:
            record = {"event": name, "ts": _default(fields.pop("ts", None) or datetime.now(UTC))}
            record.update(fields)
            self.stdout.write(to_json(record) + "\n")
            self.stdout.flush()
        elif text is not None:
            self.line(text)

    def error(
        self, code: str, message: str, exit_code: int, details: list[str] | None = None
    ) -> None:
        for line in details or [message]:
            # One line each, whatever a lock reason or an argument quoted in it holds.
            self.stderr.write(f"shipdeck: error: {printable(line)}\n")
        self.stderr.flush()
        if self.json_mode:
            payload: dict[str, Any] = {"code": code, "message": message, "exit_code": exit_code}
            if details:
                payload["details"] = details
            self.stdout.write(to_json({"error": payload}) + "\n")
            self.stdout.flush()
