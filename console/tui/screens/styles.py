"""Rich styles for words the on-call scans for: outcomes, verdicts, colors, health.

Colour only ever doubles a word that is there anyway, so ``NO_COLOR`` loses nothing.

Every cell is a ``Text`` (never markup, so ``[red]`` in a lock reason shows as
typed) holding one line with no character a terminal obeys: operators, reasons,
release names and event messages are typed by people and go through
``printable`` here, the one place table cells are made.
"""

from __future__ import annotations

from rich.text import Text

from console.core.store import Outcome
from console.core.text import printable

OUTCOME_STYLES: dict[str, str] = {
    Outcome.SUCCEEDED: "green",
    Outcome.IN_PROGRESS: "bold cyan",
    Outcome.ROLLED_BACK: "bold red",
    Outcome.FAILED: "bold red",
    Outcome.ABORTED: "yellow",
}
VERDICT_STYLES = {"pass": "green", "fail": "bold red", "inconclusive": "yellow"}
COLOR_STYLES = {"blue": "bold blue", "green": "bold green", "canary": "bold yellow"}


def styled(text: str, style: str = "") -> Text:
    return Text(printable(text), style=style, no_wrap=True, overflow="ellipsis")


def outcome(text: str, word: str | None = None) -> Text:
    return styled(text, OUTCOME_STYLES.get(word or text, ""))


def verdict(word: str) -> Text:
    return styled(word.upper() if word == "fail" else word, VERDICT_STYLES.get(word, "dim"))


def release(name: str | None, color: str | None, extra: str = "") -> Text:
    if not name:
        return styled("-", "dim")
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(printable(name), style="bold")
    if color:
        text.append(f" {color}", style=COLOR_STYLES.get(color, ""))
    if extra:
        text.append(f" {extra}", style="dim")
    return text
