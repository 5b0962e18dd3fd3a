"""What a screen (and an action flow) may read from, and ask of, the console app.

Screens and flows are typed against these protocols, never against
``ShipdeckApp``, so they import nothing of ``app.py`` and ``app.py`` imports
them one way. The app's state that screens show is reactive on the app; a
screen watches the names in ``WATCHED`` and refreshes itself when one changes.

Types only: this module must never import a screen, a flow or the app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import tzinfo
from typing import Any, Protocol, TypeVar

from textual.notifications import SeverityLevel
from textual.screen import Screen

from console.core.status import HostProbeView, ServiceStatus
from console.tui.data import ConsoleData, Target
from console.tui.display import Freshness
from console.tui.ops import ConsoleOps, OpResult, Rollout

T = TypeVar("T")

# The app's reactive attributes a screen shows: any change (a poll answered or failed,
# the selection moved, an operation started or ended here, an event arrived) refreshes
# the visible screen — and only the visible one: not while a modal is open over it.
WATCHED = (
    "selected",
    "statuses",
    "hosts_view",
    "store_health",
    "hosts_health",
    "activity",
    "last_event",
)


class Console(Protocol):
    """The console as its screens see it: settings, shared state, three requests."""

    # -- settings, fixed for the session --------------------------------------------------
    @property
    def data(self) -> ConsoleData: ...
    @property
    def ops(self) -> ConsoleOps: ...
    @property
    def read_only(self) -> bool: ...
    @property
    def tz(self) -> tzinfo | None: ...
    @property
    def cursor_blink_enabled(self) -> bool: ...
    @property
    def screen_poll_s(self) -> float | None: ...

    # -- shared state (reactive on the app: see ``WATCHED``) ---------------------------------
    @property
    def targets(self) -> list[Target]: ...
    @property
    def selected(self) -> Target | None: ...
    @property
    def statuses(self) -> dict[str, ServiceStatus]: ...
    @property
    def hosts_view(self) -> dict[str, HostProbeView]: ...
    @property
    def hosts_health(self) -> Freshness: ...

    # -- requests ---------------------------------------------------------------------------
    def select(self, key: str) -> None:
        """Make ``service/environment`` the selected target (every screen follows it)."""

    def status_parts(self, extra: Iterable[str] = ()) -> tuple[list[str], bool]:
        """The status line: its parts (``extra`` after the app's own) and whether to warn."""
        ...

    async def run_op(self, description: str, fn: Callable[..., OpResult], *args: Any) -> OpResult:
        """Run a blocking operation off the UI loop, tracked and toasted."""
        ...


class FlowHost(Console, Protocol):
    """What the changing actions' flows need besides: dialogs, toasts, detached rollouts."""

    async def push_screen_wait(self, screen: Screen[T]) -> T: ...

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None: ...

    def follow_rollout(self, rollout: Rollout) -> None:
        """A deploy started from here runs detached: show it, watch it, toast its end."""
