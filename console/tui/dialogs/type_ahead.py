"""Keys typed the instant a dialog opens belong to its input.

An on-call types fast: ``R``, Enter, ``web``, Enter can all arrive before the
confirmation has painted. Textual delivers keys that come before a new screen
has focus to the screen itself, where they would be lost (or worse, a lone
Enter would be lost while the name before it was kept). A dialog with a primary
input derives from this: it focuses the input synchronously on mount, and any
printable key that reached the screen instead of the input (it was queued while
nothing had focus) is put into that input, in order. A queued Enter then
reaches the input's own binding and submits.
"""

from __future__ import annotations

from textual import events
from textual.screen import ModalScreen, ScreenResultType
from textual.widgets import Input


class TypeAheadModal(ModalScreen[ScreenResultType]):
    """A dialog whose first job is text in one ``Input``."""

    TYPE_AHEAD_INPUT = "Input"

    def type_ahead_input(self) -> Input | None:
        """The input that keys typed ahead go to (None: this dialog has none now)."""
        found = self.query(self.TYPE_AHEAD_INPUT)
        return found.first(Input) if found else None

    def focus_type_ahead_input(self) -> None:
        """Focus now, not on the next idle: queued keys are dispatched before then."""
        target = self.type_ahead_input()
        if target is not None:
            target.cursor_blink = getattr(self.app, "cursor_blink_enabled", True)
            self.set_focus(target, scroll_visible=False)

    async def on_key(self, event: events.Key) -> None:
        target = self.type_ahead_input()
        if target is None or self.focused not in (None, target):
            return  # the user moved focus on purpose: keys go where they put them
        if event.is_printable and event.character:
            # A focused Input consumes every printable key itself, so one that
            # reaches the screen was sent here before the input had focus.
            event.stop()
            event.prevent_default()
            self.set_focus(target, scroll_visible=False)
            target.insert_text_at_cursor(event.character)
        elif event.key == "enter" and self.focused is None:
            event.stop()
            event.prevent_default()
            self.set_focus(target, scroll_visible=False)
            await target.action_submit()
