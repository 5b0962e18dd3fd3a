"""The header and status line every top-level screen carries.

The header names the selected service and environment; a protected
environment turns it red and says PROTECTED, so production is unmistakable
even with ``NO_COLOR``. The status line says how fresh each data source is.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from console.core.text import printable
from console.tui.data import Target


class ConsoleHeader(Static):
    """One line: screen, selected target (PROTECTED in red), read-only marker."""

    def show(self, screen_title: str, target: Target | None, read_only: bool) -> None:
        text = Text()
        text.append(" shipdeck ", style="bold")
        text.append(f"▸ {screen_title}  ")
        if target is not None:
            text.append(f"{target.service} / {target.environment}", style="bold")
            if target.protected:
                text.append("  ⚠ PROTECTED", style="bold")
        if read_only:
            text.append("  [READ-ONLY]", style="bold")
        self.set_class(bool(target and target.protected), "-protected")
        self.set_class(read_only, "-read-only")
        self.update(text)


class StatusLine(Static):
    """Freshness of the store and the hosts, rollouts running from here, the last event."""

    def show(self, parts: list[str], warning: bool) -> None:
        self.set_class(warning, "-warning")
        # Parts quote errors and the last event's message: one line, nothing a terminal obeys.
        line = " · ".join(printable(p) for p in parts if p)
        self.update(Text(line, no_wrap=True, overflow="ellipsis"))
