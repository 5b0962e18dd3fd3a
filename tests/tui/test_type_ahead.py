"""Keys an on-call types the instant a dialog opens reach its input, even before
the dialog has painted or taken focus."""

from __future__ import annotations

from textual import events
from textual.app import App

from console.tui.dialogs.confirm import ConfirmationModal
from console.tui.dialogs.forms import LockDialog

SIZE = (100, 30)


class DialogHost(App[None]):
    """A bare app that records what its dialog dismissed with."""

    def __init__(self) -> None:
        super().__init__()
        self.results: list[object] = []


def type_now(app: App[None], *keys: str) -> None:
    """Queue key presses as the terminal would deliver them: all at once."""
    names = {" ": ("space", " "), "enter": ("enter", "\r")}
    for key in keys:
        name, character = names.get(key, (key, key))
        app.post_message(events.Key(name, character))


async def test_service_name_typed_before_the_confirmation_paints_confirms_it():
    app = DialogHost()
    async with app.run_test(size=SIZE) as pilot:
        modal = ConfirmationModal("Roll back web?", "web: v2 → v1", require_typing="web")
        app.push_screen(modal, app.results.append)
        type_now(app, "w", "e", "b", "enter")
        await pilot.pause(0.3)
        assert app.results == [True]


async def test_a_wrong_name_typed_before_the_confirmation_paints_does_not_confirm():
    app = DialogHost()
    async with app.run_test(size=SIZE) as pilot:
        modal = ConfirmationModal("Roll back web?", "web: v2 → v1", require_typing="web")
        app.push_screen(modal, app.results.append)
        type_now(app, "w", "e", "enter")
        await pilot.pause(0.3)
        assert app.results == []
        assert modal.query_one("#typed").value == "we"


async def test_a_lock_reason_typed_before_the_dialog_paints_is_kept_whole():
    app = DialogHost()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(LockDialog("web"), app.results.append)
        type_now(app, *"incident 7", "enter")
        await pilot.pause(0.3)
        assert app.results == ["incident 7"]


async def test_enter_typed_before_an_unprotected_confirmation_paints_cancels():
    app = DialogHost()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(ConfirmationModal("Promote web?", "go to 100%"), app.results.append)
        type_now(app, "enter")
        await pilot.pause(0.3)
        assert app.results == [False]


async def test_enter_typed_before_the_release_picker_paints_picks_the_safest_release():
    from datetime import UTC, datetime

    from console.tui.data import ReleaseChoice, Target
    from console.tui.dialogs.forms import ReleasePicker

    app = DialogHost()
    target = Target("web", "production", protected=True)
    choices = [
        ReleaseChoice("v41", "repo@sha256:" + "a" * 64, None, True, "blue", True),
        ReleaseChoice("v40", "repo@sha256:" + "b" * 64, None, False, None, False),
    ]
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(ReleasePicker(target, choices, datetime.now(UTC)), app.results.append)
        type_now(app, "enter")
        await pilot.pause(0.3)
        assert app.results == [choices[0]]
