"""Forms that collect what an action needs before its confirmation: release, image, reason."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, RadioButton, RadioSet, Static
from textual.widgets.option_list import Option

from console.tui.actions import bindings
from console.tui.data import ReleaseChoice, Target
from console.tui.dialogs.type_ahead import TypeAheadModal
from console.tui.display import age

STRATEGIES = ("blue-green", "canary")


def release_prompt(choice: ReleaseChoice, now: datetime) -> Text:
    """``v41  warm (green) · last live 2h ago · known-good`` — what the on-call weighs."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{choice.name:<14}", style="bold")
    if choice.baseline:
        text.append(f"baseline, live on {choice.color or '?'}: abort the canary", style="bold")
        return text
    if choice.warm:
        text.append(f"warm ({choice.color})" if choice.color else "warm", style="bold")
    else:
        text.append("cold: start from image")
    if choice.last_live_at:
        ago = age((now - choice.last_live_at).total_seconds())
        text.append(" · last live " + (ago if ago == "just now" else f"{ago} ago"))
    else:
        text.append(" · never live")
    if choice.known_good:
        text.append(" · known-good")
    return text


class ReleasePicker(ModalScreen[ReleaseChoice | None]):
    """Retained releases, last known-good first; Enter picks, Esc cancels."""

    BINDINGS = bindings("picker")

    def __init__(self, target: Target, choices: list[ReleaseChoice], now: datetime) -> None:
        super().__init__()
        self.target = target
        self.choices = choices
        self.now = now

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(f"Roll back {self.target.label} to…", classes="dialog-title", markup=False)
            yield OptionList(
                *(
                    Option(release_prompt(c, self.now), id=str(i))
                    for i, c in enumerate(self.choices)
                ),
                id="releases",
            )
            yield Static("Enter picks · Esc cancels", classes="dim")

    def on_mount(self) -> None:
        options = self.query_one("#releases", OptionList)
        options.highlighted = 0
        # Focus now, not on the next idle: an Enter typed ahead then reaches the list's
        # own binding and picks the highlighted (safest) release.
        self.set_focus(options, scroll_visible=False)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.choices[int(event.option.id or 0)])

    def action_cancel(self) -> None:
        self.dismiss(None)


class DeployDialog(TypeAheadModal[tuple[str, str] | None]):
    """Image (tag or digest) and strategy for a deploy of the selected target."""

    BINDINGS = bindings("deploy")

    def __init__(self, target: Target, live: str | None) -> None:
        super().__init__()
        self.target = target
        self.live = live

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Deploy to {self.target.label}", classes="dialog-title", markup=False)
            yield Static(f"live now: {self.live or 'nothing'}", classes="dim", markup=False)
            yield Label("Image: TAG, REPOSITORY:TAG or REPOSITORY@sha256:DIGEST")
            yield Input(placeholder="v43", id="image")
            yield Label("Strategy")
            with RadioSet(id="strategy"):
                for strategy in STRATEGIES:
                    yield RadioButton(strategy, value=strategy == self.target.strategy)
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Continue…", id="continue", variant="primary")

    def on_mount(self) -> None:
        self.focus_type_ahead_input()

    def _result(self) -> tuple[str, str] | None:
        image = self.query_one("#image", Input).value.strip()
        if not image:
            return None
        index = self.query_one("#strategy", RadioSet).pressed_index
        return image, STRATEGIES[index if index >= 0 else 0]

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        result = self._result()
        if result is not None:
            self.dismiss(result)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "continue":
            result = self._result()
            if result is None:
                self.notify("name an image to deploy", severity="warning")
                return
            self.dismiss(result)
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class LockDialog(TypeAheadModal[str | None]):
    """Why deploys of a service are being frozen (shown to everyone who is blocked)."""

    BINDINGS = bindings("lock")

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(
                f"Lock {self.service}: freeze its deploys", classes="dialog-title", markup=False
            )
            yield Label("Reason (shown to whoever is blocked)")
            yield Input(placeholder="incident INC-123: investigating", id="reason")
            yield Static("Enter continues · Esc cancels", classes="dim")

    def on_mount(self) -> None:
        self.focus_type_ahead_input()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
