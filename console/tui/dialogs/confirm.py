"""The one confirmation every changing action goes through.

Cancel has focus, so a stray Enter cancels; ``y`` confirms, Esc cancels. The
dialog names what will happen and the equivalent headless command. For a
protected environment the service name must be typed: the input gets focus
and nothing else confirms.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Static

from console.tui.actions import availability, bindings
from console.tui.data import Target
from console.tui.dialogs.type_ahead import TypeAheadModal

T = TypeVar("T")


class ConfirmationModal(TypeAheadModal[bool]):
    """Ask before changing anything; dismisses with True only on an explicit yes."""

    BINDINGS = bindings("confirm")

    def __init__(
        self,
        title: str,
        summary: str,
        command: str | None = None,
        *,
        confirm_label: str = "Confirm",
        require_typing: str | None = None,
        note: str | None = None,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.summary = summary
        self.command = command
        self.confirm_label = confirm_label
        self.require_typing = require_typing
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(self.title_text, id="title", classes="dialog-title", markup=False)
            yield Static(self.summary, id="summary", markup=False)
            if self.note:
                yield Static(self.note, id="note", classes="dim", markup=False)
            if self.command:
                yield Static(f"$ {self.command}", id="command", classes="command", markup=False)
            if self.require_typing:
                yield Label(
                    f"Protected environment: type {self.require_typing} to confirm",
                    id="typing-hint",
                    classes="warning",
                )
                yield Input(placeholder=self.require_typing, id="typed")
            hint = (
                f"type {self.require_typing}, then Enter · Esc: cancel"
                if self.require_typing
                else "y: confirm · Esc: cancel · Tab: next button"
            )
            yield Static(hint, id="hint", classes="dim")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(
                    self.confirm_label,
                    id="confirm",
                    variant="error",
                    disabled=bool(self.require_typing),
                )

    def on_mount(self) -> None:
        if self.require_typing:
            self.focus_type_ahead_input()
        else:
            self.query_one("#cancel", Button).focus()

    @property
    def typed_ok(self) -> bool:
        if not self.require_typing:
            return True
        return self.query_one("#typed", Input).value.strip() == self.require_typing

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return availability(self, ("confirm",), action)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#confirm", Button).disabled = not self.typed_ok
        self.refresh_bindings()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.typed_ok:
            self.dismiss(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm" and self.typed_ok:
            self.dismiss(True)
        else:
            self.dismiss(False)

    def action_confirm(self) -> None:
        if self.typed_ok:
            self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class WaitsForDialogs(Protocol):
    """An app that can push a dialog and wait for its answer (from a worker)."""

    async def push_screen_wait(self, screen: Screen[T]) -> T: ...


async def ask(
    app: WaitsForDialogs,
    title: str,
    summary: str,
    command: str | None,
    *,
    confirm_label: str,
    target: Target | None = None,
    note: str | None = None,
) -> bool:
    """Ask before a change (in a worker); a protected target needs its service name typed."""
    protected = target is not None and target.protected
    modal = ConfirmationModal(
        title,
        summary,
        command,
        confirm_label=confirm_label,
        require_typing=target.service if protected and target else None,
        note=note,
    )
    confirmed: bool = await app.push_screen_wait(modal)
    return bool(confirmed)
