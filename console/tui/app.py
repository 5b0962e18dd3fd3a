"""``shipdeck`` with no command: the console an on-call keeps open during a deploy.

A thin face: the app polls a ``ConsoleData`` (store, hosts, flags) in workers
into reactive attributes (the selected target, the statuses, the host view, how
fresh each is, what runs from here) that the screens watch; changing actions
ask for confirmation, then call a ``ConsoleOps`` method in a worker. Nothing
here decides anything about production.

Polls are loops that sleep *after* each fetch, so a slow host or store never
piles requests up; while a modal is open the screens are not refreshed.
Every key is a row of ``actions.ACTIONS``; screens know the app only as the
``Console`` protocol (``protocol.py``), so nothing they import imports this.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from textual.app import App, ScreenStackError, UnknownModeError
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerCancelled, WorkerFailed

from console.core.status import HostProbeView, RolloutProgress, ServiceStatus
from console.core.text import printable
from console.tui.actions import APP, availability, bindings, key_rows, rows
from console.tui.background import in_thread
from console.tui.commands import ActionsProvider
from console.tui.data import ConsoleData, Target
from console.tui.dialogs.confirm import ask
from console.tui.dialogs.keys import KeysScreen
from console.tui.display import Freshness, Notice, diff_notices
from console.tui.flows import ActionFlows, one_line
from console.tui.ops import (
    ConsoleOps,
    OpResult,
    Rollout,
)
from console.tui.screens.canary import CanaryScreen
from console.tui.screens.flags import FlagsScreen
from console.tui.screens.history import HistoryScreen
from console.tui.screens.hosts import HostsScreen
from console.tui.screens.overview import OverviewScreen
from engines.redact import redact_urls_in

if TYPE_CHECKING:
    from console.tui.protocol import FlowHost

# What can dim an app action: the footer is redrawn only when one of these flips.
_CHANGING = tuple(row.name for row in rows(APP) if row.changes)


class OpEvent(Message):
    """An event an operation emitted (its listener runs on the operation's thread)."""

    def __init__(self, event: str, message: str, fields: dict[str, Any]) -> None:
        super().__init__()
        self.event = event
        self.text = message
        self.fields = fields


class ShipdeckApp(App[int]):
    """The console: five screens over one selected service, every action confirmed."""

    CSS_PATH = "app.tcss"
    TITLE = "shipdeck"
    COMMANDS = App.COMMANDS | {ActionsProvider}
    MODES = {
        screen.NAME: screen
        for screen in (OverviewScreen, CanaryScreen, HistoryScreen, FlagsScreen, HostsScreen)
    }
    BINDINGS = bindings(APP)

    # What the screens show (``protocol.WATCHED``): each change refreshes the visible one.
    # A poll assigns even an unchanged value (``always_update``): the status line says
    # how fresh the data is, so every answer counts. Healths are mutated in place and
    # announced with ``mutate_reactive`` when a poll fails (an answer announces itself).
    selected: reactive[Target | None] = reactive(None, init=False)
    statuses: reactive[dict[str, ServiceStatus]] = reactive(dict, always_update=True, init=False)
    hosts_view: reactive[dict[str, HostProbeView]] = reactive(dict, always_update=True, init=False)
    store_health: reactive[Freshness] = reactive(lambda: Freshness("store"), init=False)
    hosts_health: reactive[Freshness] = reactive(lambda: Freshness("hosts"), init=False)
    # What runs from here (``running_here()``), set when an operation or a deploy starts or ends.
    activity: reactive[tuple[str, ...]] = reactive((), always_update=True, init=False)
    # The last event an operation started here emitted, for the status line.
    last_event: reactive[str | None] = reactive(None, always_update=True, init=False)

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
        self.set_reactive(ShipdeckApp.selected, self.targets[0] if self.targets else None)
        self.rollouts: list[Rollout] = []
        self.flows = ActionFlows(self._flow_host())
        self._previous: list[ServiceStatus] | None = None
        self._binding_state: tuple[Any, ...] = ()
        self._ops_lock = threading.Lock()
        self._ops_running: dict[int, str] = {}
        if keymap:
            self.set_keymap(keymap)
        ops.add_listener(self._listener)

    def _flow_host(self) -> FlowHost:
        return self  # mypy checks here that the app is everything the flows need

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
                self.mutate_reactive(ShipdeckApp.store_health)
            else:
                self.store_health.ok(self.data.clock.now())
                self._take_statuses(statuses)
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
                self.mutate_reactive(ShipdeckApp.hosts_health)
            except Exception as error:
                self.hosts_health.failed(one_line(error))
                self.mutate_reactive(ShipdeckApp.hosts_health)
            else:
                self.hosts_health.ok(self.data.clock.now())
                self.hosts_view = dict(view)
            await asyncio.sleep(self.hosts_interval_s)

    def _take_statuses(self, statuses: list[ServiceStatus]) -> None:
        for notice in diff_notices(self._previous, statuses):
            self.raise_notice(notice)
        self._previous = statuses
        self.statuses = {f"{s.service}/{s.environment}": s for s in statuses}

    def watch_selected(self) -> None:
        self._refresh_binding_state()

    def watch_statuses(self) -> None:
        self._refresh_binding_state()

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

    # -- shared state the screens read ---------------------------------------------------

    def select(self, key: str) -> None:
        target = next((t for t in self.targets if t.key == key), None)
        if target is not None:
            self.selected = target  # unchanged: no watcher runs

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

    # -- bindings: the actions table says when each applies ----------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # (Modals hide these bindings themselves; the palette, a modal too, must still see them.)
        return availability(self, (APP,), action, read_only=self.read_only)

    def has_selection(self) -> bool:
        return self.selected is not None

    def canary_promotable(self) -> bool:
        """A canary runs and its process is alive (an interrupted one has none to promote it)."""
        progress = self._progress()
        return bool(progress and progress.is_canary and not progress.interrupted)

    def rollout_running(self) -> bool:
        return self._progress() is not None

    def rollout_idle(self) -> bool:
        return self.has_selection() and self._progress() is None

    def _progress(self) -> RolloutProgress | None:
        status = self.selected_status()
        return status.in_progress if status else None

    def _refresh_binding_state(self) -> None:
        """Redraw the footer only when an action's availability changed (a footer
        recompose costs tens of milliseconds; moving the cursor must not pay it)."""
        state = tuple(self.check_action(name, ()) for name in _CHANGING)
        if state != self._binding_state and self.top_screen() is not None:
            self._binding_state = state
            self.refresh_bindings()

    # -- actions ---------------------------------------------------------------------------

    def action_show(self, mode: str) -> None:
        self.switch_mode(mode)

    def action_rollback(self) -> None:
        self._start_flow(self.flows.rollback)

    def action_promote(self) -> None:
        self._start_flow(self.flows.promote)

    def action_abort(self) -> None:
        self._start_flow(self.flows.abort)

    def action_deploy(self) -> None:
        self._start_flow(self.flows.deploy)

    def action_lock(self) -> None:
        self._start_flow(self.flows.lock)

    def _start_flow(self, flow: Callable[[Target], Awaitable[None]]) -> None:
        """A flow may wait on dialogs: it runs in a worker, on the target selected now."""
        if self.selected:
            self.run_worker(flow(self.selected), group="flow")

    def action_keys(self) -> None:
        """All keys of this screen: the console's own (with ids) first, then widget keys."""
        active = [(a.binding, a.enabled) for a in self.screen.active_bindings.values()]
        self.push_screen(KeysScreen(key_rows(active, self.get_key_display, self.read_only)))

    async def action_quit(self) -> None:
        running = self.running_here()
        if not running:
            self.exit(0)
            return
        self.run_worker(self._quit_flow(running), group="flow")

    async def _quit_flow(self, running: list[str]) -> None:
        confirmed = await ask(
            self,
            "Quit while an operation started here is running?",
            "Still running from this console:\n  "
            + "\n  ".join(running)
            + "\nA deploy keeps running in its own process; a rollback is finished"
            " before shipdeck exits.",
            "shipdeck status",
            confirm_label="Quit",
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
        self.activity = tuple(self.running_here())
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
        self.activity = tuple(self.running_here())
        return result

    def follow_rollout(self, rollout: Rollout) -> None:
        self.rollouts.append(rollout)
        self.run_worker(self._watch_rollout(rollout), group="rollouts")
        self.activity = tuple(self.running_here())

    async def _watch_rollout(self, rollout: Rollout) -> None:
        while (code := rollout.poll()) is None:
            await asyncio.sleep(1.0)
        self.rollouts = [r for r in self.rollouts if r is not rollout]
        outcome = {0: "succeeded", 1: "failed and was rolled back", 3: "was blocked"}.get(
            code, f"exited with code {code}"
        )
        where = f" (log: {rollout.log_path})" if rollout.log_path and code else ""
        self.notify(
            f"{rollout.description} {outcome}{where}",
            severity="information" if code == 0 else "error",
            timeout=12,
        )
        self.activity = tuple(self.running_here())

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
        if event.event.endswith(("_failed", "rolled_back")):
            self.notify(event.text, severity="error", timeout=10)
        elif event.event in ("abort_requested", "promoted", "step_extended"):
            self.notify(event.text, severity="warning")
        self.last_event = f"{stamp} {printable(event.text)}".strip()


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
