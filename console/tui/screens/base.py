"""What every top-level screen shares: chrome, the app's state, an optional own poll.

A screen never reads the store itself: it watches the app's reactive state
(``protocol.WATCHED``) and shows it (``refresh_view``) while it is the visible
screen, or it names a ``fetch`` the base class runs in a worker, one request at
a time, the next one scheduled only when the previous one finished. The poll
stops while the screen is hidden or a modal is open over it (the screen is
suspended then) and restarts when it comes back. The app is reached only as the
``Console`` protocol; keys and when they apply come from ``actions.ACTIONS``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any, ClassVar, cast

from textual.app import ComposeResult, ScreenStackError, UnknownModeError
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input

from console.tui.actions import ACTIONS_BY_ID, SCREEN, availability, bindings
from console.tui.background import in_thread
from console.tui.display import Freshness
from console.tui.protocol import WATCHED, Console
from console.tui.widgets.chrome import ConsoleHeader, StatusLine


class ConsoleScreen(Screen[None]):
    """Header, body, status line and footer; refreshed by the app, polled if it says so."""

    NAME: ClassVar[str] = ""  # the mode, and the screen name in ``actions.ACTIONS``
    SCREEN_TITLE: ClassVar[str] = ""
    POLL_INTERVAL_S: ClassVar[float | None] = None
    FILTER_PLACEHOLDER: ClassVar[str] = "filter"  # where the actions table lets ``/`` filter
    FILTER_DEBOUNCE_S: ClassVar[float] = 0.0
    BINDINGS = bindings(SCREEN)

    def __init__(self) -> None:
        super().__init__()
        self.freshness = Freshness(self.SCREEN_TITLE.lower())
        self.filter_text = ""
        self._debounce: Timer | None = None

    def compose(self) -> ComposeResult:
        yield ConsoleHeader(id="header")
        if self.filterable:
            yield Input(placeholder=self.FILTER_PLACEHOLDER, id="filter")
        yield from self.compose_body()
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        for name in WATCHED:
            self.watch(self.app, name, self._console_changed, init=False)
        if self.filterable:
            filter_input = self.query_one("#filter", Input)
            filter_input.display = False
            filter_input.cursor_blink = self.console.cursor_blink_enabled

    def compose_body(self) -> ComposeResult:
        yield from ()

    @property
    def console(self) -> Console:
        return cast(Console, self.app)

    @property
    def filterable(self) -> bool:
        """Does ``/`` filter this screen (the actions table says where)?"""
        return self.NAME in ACTIONS_BY_ID["filter"].screens

    @property
    def is_showing(self) -> bool:
        """On top of the visible stack: no modal over it, not another mode's screen."""
        try:
            return self.app.screen is self
        except (ScreenStackError, UnknownModeError):
            return False  # the instant a mode switch has no screen

    # -- keys: the actions table says when each applies ------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return availability(
            self, (self.NAME, SCREEN), action, screen=self.NAME, read_only=self.console.read_only
        )

    # -- ``/`` filter ----------------------------------------------------------------------

    def filter_active(self) -> bool:
        """Esc clears a filter: one is set, or its input is open."""
        return bool(self.filter_text) or self.query_one("#filter", Input).display

    def action_filter(self) -> None:
        filter_input = self.query_one("#filter", Input)
        filter_input.display = True
        filter_input.focus()

    def action_clear_filter(self) -> None:
        filter_input = self.query_one("#filter", Input)
        filter_input.value = ""
        filter_input.display = False
        self.focus_main()
        if self.filter_text:
            self.filter_text = ""
            self.filter_changed()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "filter":
            return
        if self._debounce is not None:
            self._debounce.stop()
        if self.FILTER_DEBOUNCE_S:
            self._debounce = self.set_timer(self.FILTER_DEBOUNCE_S, self._apply_filter)
        else:
            self._apply_filter()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "filter":
            return
        event.stop()
        self._apply_filter()
        self.focus_main()

    def _apply_filter(self) -> None:
        text = self.query_one("#filter", Input).value.strip()
        if text != self.filter_text:
            self.filter_text = text
            self.filter_changed()

    def filter_changed(self) -> None:
        """Hook: ``filter_text`` changed (default: show the data again, filtered)."""
        self.update_view()

    def matches(self, *fields: str) -> bool:
        """Does a row with these fields pass the filter (case-insensitive substring)?"""
        needle = self.filter_text.lower()
        return not needle or any(needle in field.lower() for field in fields)

    def focus_main(self) -> None:
        tables = self.query(DataTable)
        if tables:
            tables.first().focus()

    # -- refreshing ------------------------------------------------------------------------

    def _console_changed(self) -> None:
        """The app's state changed: show it — unless hidden or a modal is open over us
        (``on_screen_resume`` shows the latest when we are back on top)."""
        if self.is_showing:
            self.update_view()

    def on_screen_resume(self) -> None:
        self.resumed()
        self.update_view()
        self.start_polling()

    def update_view(self) -> None:
        """Chrome and body from the app's latest data; a no-op until the body is mounted."""
        try:
            self.refresh_chrome()
            self.refresh_view()
        except NoMatches:
            pass  # still composing nested containers; the next poll shows it

    def on_screen_suspend(self) -> None:
        self.stop_polling()

    def resumed(self) -> None:
        """Hook: the screen is shown again (Textual calls every class's handler, so
        subclasses override this rather than ``on_screen_resume``)."""

    def refresh_chrome(self) -> None:
        app = self.console
        self.query_one(ConsoleHeader).show(self.SCREEN_TITLE, app.selected, app.read_only)
        parts, warning = app.status_parts(self.status_extra())
        self.query_one(StatusLine).show(parts, warning)

    def status_extra(self) -> Iterable[str]:
        """Screen-specific status (its own source's freshness), shown after the app's."""
        if self.POLL_INTERVAL_S is None or self.freshness.healthy:
            return []
        return [f"{self.freshness.name} " + self.freshness.describe(self.console.tz)]

    def refresh_view(self) -> None:
        """Show the app's latest data (overview statuses, hosts); cheap, keyed updates only."""

    # -- the screen's own poll ------------------------------------------------------------------

    def fetch(self) -> Any:
        """Read this screen's data (runs in a thread)."""
        raise NotImplementedError

    def show(self, result: Any) -> None:
        """Display what ``fetch`` returned."""

    def start_polling(self) -> None:
        if self.POLL_INTERVAL_S is None:
            return
        self.run_worker(
            self._poll_loop, group="screen-poll", exclusive=True, name=f"poll {self.SCREEN_TITLE}"
        )

    def poll_now(self) -> None:
        """Fetch immediately (the selection or filter changed); restarts the loop."""
        if self.is_showing:
            self.start_polling()

    def stop_polling(self) -> None:
        self.workers.cancel_group(self, "screen-poll")

    async def _poll_loop(self) -> None:
        assert self.POLL_INTERVAL_S is not None
        while True:
            try:
                result = await in_thread(self.fetch)
            except Exception as error:
                lines = str(error).strip().splitlines()
                self.freshness.failed(lines[0] if lines else type(error).__name__)
            else:
                self.freshness.ok(self.console.data.clock.now())
                if self.is_showing:
                    with contextlib.suppress(NoMatches):
                        self.show(result)
            if self.is_showing:
                with contextlib.suppress(NoMatches):
                    self.refresh_chrome()
            await asyncio.sleep(self.console.screen_poll_s or self.POLL_INTERVAL_S)
