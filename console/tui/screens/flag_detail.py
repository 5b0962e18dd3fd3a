"""One flag's every field, why it is stale, and its audit history (Enter on Flags)."""

from __future__ import annotations

from typing import cast

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from console.core.text import printable, printable_block
from console.tui.actions import bindings
from console.tui.background import in_thread
from console.tui.data import FlagDetail
from console.tui.display import stamp
from console.tui.protocol import Console


def detail_text(detail: FlagDetail, tz: object = None) -> Text:
    text = Text()
    width = max(len(label) for label, _ in detail.fields)
    for label, value in detail.fields:
        text.append(f"{label:<{width}}  ", style="bold")
        text.append(f"{printable_block(value)}\n")
    if detail.row.stale:
        text.append("\nstale\n", style="bold yellow")
        for code, message in detail.row.stale:
            text.append(f"  ⚑ {code}: {printable(message)}\n", style="yellow")
    text.append("\naudit history (newest first)\n", style="bold underline")
    if not detail.changes:
        text.append("  no recorded changes\n", style="dim")
    for change in detail.changes:
        env = change.environment or "all"
        # Operators and summaries come from the audit trail: one line each, as typed.
        who = printable(change.operator)
        text.append(f"  {stamp(change.at, tz)}  {who}  [{printable(env)}]  ")  # type: ignore[arg-type]
        text.append(f"{printable(change.summary)}\n")
    return text


class FlagDetailScreen(ModalScreen[None]):
    """Fields, stale reasons and audit trail of one flag."""

    BINDINGS = bindings("flag")

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide tall"):
            yield Label(f"flag {printable(self.key)}", classes="dialog-title", markup=False)
            with VerticalScroll():
                yield Static("loading…", id="flag-detail")
            yield Static("Esc: back", classes="dim")

    def on_mount(self) -> None:
        self.run_worker(self._load(), group="flag-detail", exclusive=True)

    async def _load(self) -> None:
        console = cast(Console, self.app)
        data = console.data
        body = self.query_one("#flag-detail", Static)
        try:
            detail = await in_thread(data.flag_detail, self.key)
        except Exception as error:
            body.update(
                Text(
                    f"cannot read flag {printable(self.key)}: {printable(str(error))}",
                    style="bold red",
                )
            )
            return
        body.update(detail_text(detail, console.tz))

    def action_close(self) -> None:
        self.dismiss(None)
