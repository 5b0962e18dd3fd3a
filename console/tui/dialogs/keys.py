"""``?``: every key of the current screen, including the dimmed ones and why."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from console.tui.actions import bindings


class KeysScreen(ModalScreen[None]):
    """Key, action, binding id (for ``[keymap]``) and state: rows from ``actions.key_rows``."""

    BINDINGS = bindings("keys")

    def __init__(self, rows: list[tuple[str, str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide tall"):
            yield Label("Keys", classes="dialog-title")
            yield DataTable(id="keys", cursor_type="row", zebra_stripes=True)
            yield Static(
                'Remap in config: [keymap] binding_id = "keys" · Esc closes',
                classes="dim",
                markup=False,
            )

    def on_mount(self) -> None:
        table = self.query_one("#keys", DataTable)
        table.add_columns("key", "action", "id", "state")
        for row in self.rows:
            table.add_row(*row)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
