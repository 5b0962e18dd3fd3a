"""The event timeline of one deployment (Enter on History), paged and live while it runs."""

from __future__ import annotations

import asyncio
from typing import cast

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from console.core.store import Outcome
from console.core.text import printable
from console.tui.actions import bindings
from console.tui.background import in_thread
from console.tui.data import ConsoleData, HistoryRow
from console.tui.display import clock_time, duration
from console.tui.protocol import Console
from console.tui.screens.styles import outcome, styled

PAGE = 500


class TimelineScreen(ModalScreen[None]):
    """Every event of one deployment, oldest first; new ones appear while it runs."""

    BINDINGS = bindings("timeline")

    def __init__(self, row: HistoryRow) -> None:
        super().__init__()
        self.row = row
        self.after_id = 0

    def compose(self) -> ComposeResult:
        row = self.row
        with Vertical(classes="dialog wide tall"):
            # Not markup, one line: the operator and release names were typed by people.
            yield Label(
                printable(
                    f"#{row.id} {row.service}/{row.environment}: {row.from_release or '-'} → "
                    f"{row.to_release or '-'} ({row.kind}/{row.strategy}) by {row.operator}"
                ),
                classes="dialog-title",
                markup=False,
            )
            yield Static(outcome(f"{row.outcome} · {duration(row.duration_s)}", row.outcome))
            if row.reason:
                yield Static(printable(row.reason), classes="warning", markup=False)
            yield DataTable(id="events", cursor_type="row", zebra_stripes=True)
            yield Static("Esc: back", classes="dim")

    def on_mount(self) -> None:
        table = self.query_one("#events", DataTable)
        table.add_column("time", key="time")
        table.add_column("event", key="kind")
        table.add_column("message", key="message")
        table.focus()
        self.run_worker(self._follow(), group="timeline", exclusive=True)

    @property
    def data(self) -> ConsoleData:
        return cast(Console, self.app).data

    async def _follow(self) -> None:
        """Read every page, then (while the deployment runs) poll for new events."""
        table = self.query_one("#events", DataTable)
        tz = cast(Console, self.app).tz
        while True:
            try:
                events = await in_thread(self.data.events, self.row.id, self.after_id, PAGE)
            except Exception as error:
                self.notify(f"events: {error}", severity="error")
                events = []
            with self.app.batch_update():
                for event in events:
                    self.after_id = event.id
                    table.add_row(
                        styled(clock_time(event.ts, tz)),
                        styled(event.kind, "bold"),
                        styled(event.message),
                        key=str(event.id),
                    )
            if len(events) == PAGE:
                continue
            if self.row.outcome != Outcome.IN_PROGRESS:
                return
            await asyncio.sleep(1.0)

    def action_close(self) -> None:
        self.dismiss(None)
