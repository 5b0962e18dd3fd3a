"""``shipdeck`` with no command: the console an on-call keeps open during a deploy.

A thin face: the app polls a ``ConsoleData`` (store, hosts, flags) in workers
and hands what it read to the visible screen; changing actions ask for
confirmation, then call a ``ConsoleOps`` method in a worker. Nothing here
decides anything about production.

Polls are loops that sleep *after* each fetch, so a slow host or store never
piles requests up; while a modal is open the screens are not refreshed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
from collections.abc import Callable, Iterable
from datetime import tzinfo
from typing import Any

from textual.app import App, ScreenStackError, UnknownModeError
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerCancelled, WorkerFailed

from console.core.status import HostProbeView, ServiceStatus
from console.core.text import printable
from console.tui.background import in_thread
from console.tui.commands import ActionsProvider
from console.tui.data import ConsoleData, Target
from console.tui.dialogs.confirm import ConfirmationModal
from console.tui.dialogs.keys import KeysScreen
from console.tui.display import Freshness, Notice, diff_notices
from console.tui.flows import ActionFlows, one_line
from console.tui.ops import (
    ConsoleOps,
    OpResult,
    Rollout,
)
from console.tui.screens.base import ConsoleScreen
from console.tui.screens.canary import CanaryScreen
from console.tui.screens.flags import FlagsScreen
from console.tui.screens.history import HistoryScreen
from console.tui.screens.hosts import HostsScreen
from console.tui.screens.overview import OverviewScreen
from engines.redact import redact_urls_in

SCREENS = Binding.Group("screens", compact=True)
CHANGING_ACTIONS = frozenset({"rollback", "promote", "abort", "deploy", "lock"})


class OpEvent(Message):
    """An event an operation emitted (its listener runs on the operation's thread)."""

    def __init__(self, event: str, message: str, fields: dict[str, Any]) -> None:
        super().__init__()
        self.event = event
        self.text = message
        self.fields = fields


class ShipdeckApp(ActionFlows, App[int]):
    """The console: five screens over one selected service, every action confirmed."""

    CSS_PATH = "app.tcss"
    TITLE = "shipdeck"
    COMMANDS = App.COMMANDS | {ActionsProvider}
    MODES = {
        "overview": OverviewScreen,
        "canary": CanaryScreen,
        "history": HistoryScreen,
        "flags": FlagsScreen,
        "hosts": HostsScreen,
    }
    BINDINGS = [
        Binding("1", "show('overview')", "Overview", id="screen.overview", group=SCREENS),
        Binding("2", "show('canary')", "Canary", id="screen.canary", group=SCREENS),
        Binding("3", "show('history')", "History", id="screen.history", group=SCREENS),
        Binding("4", "show('flags')", "Flags", id="screen.flags", group=SCREENS),
        Binding("5", "show('hosts')", "Hosts", id="screen.hosts", group=SCREENS),
        Binding("R", "rollback", "Rollback", id="rollback"),
        Binding("P", "promote", "Promote", id="promote"),
        Binding("A", "abort", "Abort", id="abort"),
        Binding("D", "deploy", "Deploy", id="deploy"),
        Binding("L", "lock", "Lock", id="lock"),
        Binding("question_mark", "keys", "Keys", id="keys"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(
        self,
        data: ConsoleData,
        ops: ConsoleOps,
        *,
        read_only: bool = False,
        keymap: dict[str, str] | None = None,
        tz: tzinfo | None = None,
        overview_interval_s: float = 1.0,
        hosts_interval_s: float = 5.0,
        hosts_timeout_s: float = 30.0,
        screen_poll_s: float | None = None,
        cursor_blink: bool = True,
    ) -> None:
        super().__init__()
        self.data = data
        self.ops = ops
        self.read_only = read_only
        self.tz = tz
        self.overview_interval_s = overview_interval_s
        self.hosts_interval_s = hosts_interval_s
        self.hosts_timeout_s = hosts_timeout_s
        self.screen_poll_s = screen_poll_s  # None: each screen's own interval
        self.cursor_blink_enabled = cursor_blink
        self.targets: list[Target] = data.targets()
        self.selected: Target | None = self.targets[0] if self.targets else None
        self.statuses: dict[str, ServiceStatus] = {}
        self.hosts_view: dict[str, HostProbeView] = {}
        self.store_health = Freshness("store")
        self.hosts_health = Freshness("hosts")
        self.last_event: str | None = None
        self.rollouts: list[Rollout] = []
        self._previous: list[ServiceStatus] | None = None
        self._binding_state: tuple[Any, ...] = ()
        self._ops_lock = threading.Lock()
        self._ops_running: dict[int, str] = {}
        if keymap:
            self.set_keymap(keymap)
        ops.add_listener(self._listener)

    # -- start-up and polling --------------------------------------------------------------

    def on_mount(self) -> None:
        self.switch_mode("overview")
        self.run_worker(self._overview_loop, name="poll overview", group="poll")
        self.run_worker(self._hosts_loop, name="poll hosts", group="poll")

    async def _overview_loop(self) -> None:
        """Store view every second; scheduled when the previous poll has finished."""
        while True:
            try:
                statuses = await in_thread(self.data.overview, dict(self.hosts_view))
            except Exception as error:
                self.store_health.failed(one_line(error))
            else:
                self.store_health.ok(self.data.clock.now())
                self._take_statuses(statuses)
            self.publish()
            await asyncio.sleep(self.overview_interval_s)

    async def _hosts_loop(self) -> None:
        """What every host runs; a hung host times out in its own thread and loop."""
        while True:
            try:
                view = await in_thread(
                    lambda: asyncio.run(asyncio.wait_for(self.data.hosts(), self.hosts_timeout_s))
                )
            except TimeoutError:
                self.hosts_health.failed(f"timed out after {self.hosts_timeout_s:g}s")
            except Exception as error:
                self.hosts_health.failed(one_line(error))
            else:
                self.hosts_health.ok(self.data.clock.now())
                self.hosts_view = dict(view)
            self.publish()
            await asyncio.sleep(self.hosts_interval_s)

    def _take_statuses(self, statuses: list[ServiceStatus]) -> None:
        for notice in diff_notices(self._previous, statuses):
            self.raise_notice(notice)
        self._previous = statuses
        self.statuses = {f"{s.service}/{s.environment}": s for s in statuses}

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every toast is plain text on one line, whoever raises it (screens call this too).

        Toasts quote lock reasons, operators, release names and engine errors:
        as markup, ``[red]`` would restyle a toast and ``[/x]`` would raise; raw,
        ``\x1b[2J`` would reach the terminal. Nothing shipdeck notifies uses
        markup, so ``markup`` is accepted for Textual's signature and ignored.
        """
        super().notify(
            printable(message),
            title=printable(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def raise_notice(self, notice: Notice) -> None:
        self.notify(notice.message, title=notice.title, severity=notice.severity, timeout=8)  # type: ignore[arg-type]
        if notice.bell:
            self.bell()

    def top_screen(self) -> Screen[Any] | None:
        """The visible screen, or None for the instant a mode switch has none."""
        try:
            return self.screen
        except (ScreenStackError, UnknownModeError):
            return None

    def publish(self) -> None:
        """Hand fresh data to the visible screen — unless a modal is open over it."""
        self._refresh_binding_state()
        screen = self.top_screen()
        if isinstance(screen, ConsoleScreen):
            screen.update_view()

    # -- shared state the screens read ---------------------------------------------------

    def select(self, key: str) -> None:
        target = next((t for t in self.targets if t.key == key), None)
        if target is None or target == self.selected:
            return
        self.selected = target
        self._refresh_binding_state()
        screen = self.top_screen()
        if isinstance(screen, ConsoleScreen):
            screen.update_view()

    def selected_status(self) -> ServiceStatus | None:
        return self.statuses.get(self.selected.key) if self.selected else None

    def stale_after_s(self, source: str) -> float:
        if source == "hosts":
            return self.hosts_timeout_s + self.hosts_interval_s + 5
        return self.overview_interval_s * 3 + 5

    def status_parts(self, extra: Iterable[str] = ()) -> tuple[list[str], bool]:
        now = self.data.clock.now()
        parts = [
            "store " + self.store_health.describe(self.tz, now, self.stale_after_s("store")),
            "hosts " + self.hosts_health.describe(self.tz, now, self.stale_after_s("hosts")),
        ]
        down = sorted(h for h, v in self.hosts_view.items() if not v.reachable)
        if down:
            parts.append(f"{len(down)} host{'s' if len(down) > 1 else ''} unreachable")
        running = self.running_here()
        if running:
            parts.append(f"running here: {'; '.join(running)}")
        parts += list(extra)
        if self.last_event:
            parts.append(self.last_event)
        warning = (
            self.store_health.is_stale(now, self.stale_after_s("store"))
            or self.hosts_health.is_stale(now, self.stale_after_s("hosts"))
            or bool(down)
        )
        return parts, warning

    # -- bindings: dimmed when read-only, nothing selected, or not applicable --------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # (Modals hide these bindings themselves; the palette, a modal too, must still see them.)
        if action not in CHANGING_ACTIONS:
            return True
        if self.read_only or self.selected is None:
            return None
        status = self.selected_status()
        progress = status.in_progress if status else None
        if action == "promote":  # an interrupted rollout has no process to promote it
            return True if progress and progress.is_canary and not progress.interrupted else None
        if action == "abort":
            return True if progress else None
        if action == "deploy":
            return None if progress else True
        return True

    def _refresh_binding_state(self) -> None:
        """Redraw the footer only when an action's availability changed (a footer
        recompose costs tens of milliseconds; moving the cursor must not pay it)."""
        state = tuple(self.check_action(a, ()) for a in sorted(CHANGING_ACTIONS))
        if state != self._binding_state and self.top_screen() is not None:
            self._binding_state = state
            self.refresh_bindings()

    # -- actions ---------------------------------------------------------------------------

    def action_show(self, mode: str) -> None:
        self.switch_mode(mode)

    def action_keys(self) -> None:
        """All keys of this screen: the console's own (with ids) first, then widget keys."""
        rows = []
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.description:
                continue
            state = "available" if active.enabled else "dimmed"
            if not active.enabled and self.read_only:
                state = "dimmed: read-only"
            key = self.get_key_display(binding)
            rows.append((key, binding.description, binding.id or "", state))
        rows.sort(key=lambda row: not row[2])  # stable: keeps each group's order
        self.push_screen(KeysScreen(rows))

    async def action_quit(self) -> None:
        running = self.running_here()
        if not running:
            self.exit(0)
            return
        self.run_worker(self._quit_flow(running), group="flow")

    async def _quit_flow(self, running: list[str]) -> None:
        confirmed = await self.push_screen_wait(
            ConfirmationModal(
                "Quit while an operation started here is running?",
                "Still running from this console:\n  "
                + "\n  ".join(running)
                + "\nA deploy keeps running in its own process; a rollback is finished"
                " before shipdeck exits.",
                "shipdeck status",
                confirm_label="Quit",
            )
        )
        if confirmed:
            self.exit(0)

    async def run_op(self, description: str, fn: Callable[..., OpResult], *args: Any) -> OpResult:
        """Run a blocking operation in a worker (on its own thread); toast its result.

        Quitting does not cut it short: ``run_console`` waits for it to finish.
        """

        def tracked() -> OpResult:
            ident = threading.get_ident()
            with self._ops_lock:
                self._ops_running[ident] = description
            try:
                return fn(*args)
            finally:
                with self._ops_lock:
                    self._ops_running.pop(ident, None)

        worker: Worker[OpResult] = self.run_worker(
            in_thread(tracked), group="ops", name=description, exit_on_error=False
        )
        self.publish()
        try:
            result = await worker.wait()
        except (WorkerFailed, WorkerCancelled):
            result = OpResult(False, f"{description}: {one_line(worker.error)}")
        self.notify(
            result.message,
            title=description,
            severity="information" if result.ok else "error",
            timeout=10,
        )
        self.publish()
        return result

    # -- what runs from here ---------------------------------------------------------------

    def in_process_ops(self) -> list[str]:
        with self._ops_lock:
            return list(self._ops_running.values())

    def running_here(self) -> list[str]:
        detached = [r.description for r in self.rollouts if r.poll() is None]
        return self.in_process_ops() + detached

    # -- events from operations started here ---------------------------------------------

    def _listener(self, event: str, message: str, fields: dict[str, Any]) -> None:
        # After the console closed the operation goes on; its events have nowhere to go.
        with contextlib.suppress(RuntimeError):
            self.post_message(OpEvent(event, message, dict(fields)))

    def on_op_event(self, event: OpEvent) -> None:
        stamp = str(event.fields.get("ts", ""))[11:19]
        self.last_event = f"{stamp} {printable(event.text)}".strip()
        if event.event.endswith(("_failed", "rolled_back")):
            self.notify(event.text, severity="error", timeout=10)
        elif event.event in ("abort_requested", "promoted", "step_extended"):
            self.notify(event.text, severity="warning")
        self.publish()


def build_app(args: argparse.Namespace) -> tuple[ShipdeckApp, Callable[[], None]]:
    """The real console for parsed CLI args, and a function that closes what it opened."""
    from console.core.session import Session
    from console.tui.data import StoreConsoleData
    from console.tui.ops import CoreOps

    session = Session(getattr(args, "config", None), getattr(args, "state", None))
    config = session.config()
    store = session.store()
    data = StoreConsoleData(config, store, session.clock)
    ops = CoreOps(
        config,
        store,
        session.clock,
        session.operator,
        config_path=config.path,
        state_path=session.state_path(),
    )
    app = ShipdeckApp(
        data, ops, read_only=bool(getattr(args, "read_only", False)), keymap=config.keymap
    )
    return app, session.close


def run_console(args: argparse.Namespace) -> int:
    """Open the console; returns the process exit code (2 bad config, 4 store unreachable).

    Textual's terminal driver installs signal handlers, which only the main
    thread may do; called from another thread the console runs as a child
    ``shipdeck`` process on the same terminal instead.
    """
    from console.core.errors import ShipdeckError

    if threading.current_thread() is not threading.main_thread():
        return _run_console_process(args)

    try:
        app, close = build_app(args)
    except ShipdeckError as error:
        # A config error may quote a rejected webhook URL, token and all.
        print(f"shipdeck: {printable(redact_urls_in(error.message))}", file=sys.stderr)
        return int(error.exit_code)
    try:
        app.run()
    finally:
        waiting = app.in_process_ops()
        if waiting:
            print(
                f"shipdeck: finishing {'; '.join(waiting)} before exiting…",
                file=sys.stderr,
                flush=True,
            )
            while app.in_process_ops():
                threading.Event().wait(0.2)
        close()
    return int(app.return_code or 0)


def _run_console_process(args: argparse.Namespace) -> int:
    import subprocess

    argv = [sys.executable, "-m", "console"]
    for option in ("config", "state"):
        if getattr(args, option, None):
            argv += [f"--{option}", str(getattr(args, option))]
    if getattr(args, "read_only", False):
        argv.append("--read-only")
    return subprocess.call(argv)


__all__ = ["ShipdeckApp", "build_app", "run_console"]
