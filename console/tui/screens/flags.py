"""4 · Flags: every flag's state per environment, stale markers, code references.

``space`` toggles, ``+``/``-`` step the percentage through 1, 5, 10, 25, 50,
100, ``k`` is the kill switch — each after a confirmation naming the change
and the equivalent ``shipdeck flags`` command. ``e`` switches which
environment those keys act on. Reference counts are scanned once, in the
background (a large tree takes a while).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.tui.actions import bindings
from console.tui.background import in_thread
from console.tui.data import FlagRow
from console.tui.dialogs.confirm import ask
from console.tui.display import bar, next_percent
from console.tui.ops import flag_kill_command, flag_percent_command, flag_toggle_command
from console.tui.screens.base import ConsoleScreen
from console.tui.screens.flag_detail import FlagDetailScreen
from console.tui.screens.styles import styled
from console.tui.widgets.table import KeyedTable

ENVIRONMENTS = ("staging", "production")
COLUMNS = [
    ("flag", "key"),
    ("type", "type"),
    ("stage", "stage"),
    ("staging", "staging"),
    ("production", "production"),
    ("owner", "owner"),
    ("age", "age"),
    ("stale", "stale"),
    ("refs", "refs"),
]


def env_cell(row: FlagRow, environment: str) -> Text:
    if row.killed:
        return styled("KILLED", "bold red")
    enabled, percent = row.state(environment)
    if not enabled:
        return styled("off", "dim")
    return styled(f"on {bar(percent, 4)} {percent:>3}%", "green" if percent == 100 else "")


def flag_cells(row: FlagRow, refs: int | None) -> list[Text]:
    stale = ""
    if row.stale:
        stale = row.stale[0][0].lower().replace("_", " ")
        stale += f" +{len(row.stale) - 1}" if len(row.stale) > 1 else ""
    return [
        styled(row.key, "bold"),
        styled(row.type),
        styled(row.stage),
        env_cell(row, "staging"),
        env_cell(row, "production"),
        styled(row.owner),
        styled(f"{row.age_days}d"),
        styled(f"⚑ {stale}" if stale else "-", "bold yellow" if stale else "dim"),
        styled("…" if refs is None else str(refs), "dim" if refs is None else ""),
    ]


class FlagsScreen(ConsoleScreen):
    """Flags table with toggle, percentage steps, kill switch and details."""

    NAME = "flags"
    SCREEN_TITLE = "Flags"
    POLL_INTERVAL_S = 2.0
    FILTER_PLACEHOLDER = "filter: key, owner, type or stage"
    BINDINGS = bindings("flags")

    def __init__(self) -> None:
        super().__init__()
        self.environment = "production"
        self.rows: dict[str, FlagRow] = {}
        self.refs: dict[str, int] | None = None
        self._refs_started = False

    def compose_body(self) -> ComposeResult:
        yield Static(id="flags-target", classes="subtitle")
        yield KeyedTable(COLUMNS, id="flags-table")

    def on_mount(self) -> None:
        self.query_one(KeyedTable).focus()

    def resumed(self) -> None:
        self._target_line()
        if not self._refs_started:
            self._refs_started = True
            self.run_worker(self._scan_refs(), group="flag-refs")

    def _target_line(self) -> None:
        text = Text("space/+/-/k act on ")
        text.append(
            self.environment, style="bold red" if self.environment == "production" else "bold"
        )
        text.append(" · e: switch environment · Enter: details and audit", style="dim")
        self.query_one("#flags-target", Static).update(text)

    async def _scan_refs(self) -> None:
        try:
            self.refs = await in_thread(self.console.data.flag_references)
        except Exception as error:
            self.notify(f"flag references: {error}", severity="warning")
            self.refs = {}
        self._render_rows()

    def fetch(self) -> list[FlagRow]:
        return self.console.data.flags()

    def show(self, result: list[FlagRow]) -> None:
        self.rows = {row.key: row for row in result}
        self._render_rows()

    def _render_rows(self) -> None:
        if not self.is_mounted:
            return
        if not self.rows and self.freshness.last_ok:
            self.query_one("#flags-target", Static).update(
                Text("no flags: the flags file is missing or empty", style="dim")
            )
        elif self.rows:
            self._target_line()
        refs = self.refs
        self.query_one(KeyedTable).sync(
            [
                (row.key, flag_cells(row, None if refs is None else refs.get(row.key, 0)))
                for row in self.rows.values()
                if self.matches(row.key, row.owner, row.type, row.stage)
            ]
        )

    @property
    def selected_flag(self) -> FlagRow | None:
        key = self.query_one(KeyedTable).selected_key()
        return self.rows.get(key) if key else None

    # -- keys ----------------------------------------------------------------------------------

    def flag_selected(self) -> bool:
        """space, +, -, k act on the flag under the cursor: is there one?"""
        return self.selected_flag is not None

    def flag_open(self) -> bool:
        """Enter opens details: the table has the focus and a flag is under the cursor."""
        return isinstance(self.focused, DataTable) and self.selected_flag is not None

    def filter_changed(self) -> None:
        self._render_rows()

    def action_environment(self) -> None:
        index = ENVIRONMENTS.index(self.environment)
        self.environment = ENVIRONMENTS[(index + 1) % len(ENVIRONMENTS)]
        self._target_line()

    def action_details(self) -> None:
        flag = self.selected_flag
        if flag is not None:
            self.app.push_screen(FlagDetailScreen(flag.key))

    def action_toggle(self) -> None:
        flag = self.selected_flag
        if flag is None:
            return
        enabled, percent = flag.state(self.environment)
        turn_on = flag.killed or not enabled
        before = "KILLED" if flag.killed else ("on" if enabled else "off")
        after = f"on ({percent}%)" if turn_on else "off"
        summary = f"{flag.key}: {self.environment} {before} → {after}"
        if turn_on and flag.killed:
            summary += "\nThis re-arms the global kill switch."
        if turn_on and percent == 0:
            summary += "\nAt 0% nobody gets it: raise the percentage with +."
        self._change(
            f"Turn {flag.key} {'on' if turn_on else 'off'} in {self.environment}?",
            summary,
            flag_toggle_command(flag.key, self.environment, turn_on),
            "Turn on" if turn_on else "Turn off",
            f"flag {flag.key}",
            self.console.ops.set_flag_enabled,
            flag.key,
            self.environment,
            turn_on,
        )

    def _step(self, direction: int) -> None:
        flag = self.selected_flag
        if flag is None:
            return
        _, percent = flag.state(self.environment)
        target = next_percent(percent, direction)
        if target == percent:
            self.notify(f"{flag.key}: already at {percent}%", severity="warning")
            return
        self._change(
            f"Set {flag.key} to {target}% in {self.environment}?",
            f"{flag.key}: {self.environment} {percent}% → {target}%",
            flag_percent_command(flag.key, self.environment, target),
            f"Set {target}%",
            f"flag {flag.key}",
            self.console.ops.set_flag_percent,
            flag.key,
            self.environment,
            target,
        )

    def action_more(self) -> None:
        self._step(+1)

    def action_less(self) -> None:
        self._step(-1)

    def action_kill(self) -> None:
        flag = self.selected_flag
        if flag is None:
            return
        self._change(
            f"Kill {flag.key}?",
            f"{flag.key}: off in every environment, now (running apps see it within their "
            "poll interval)",
            flag_kill_command(flag.key),
            "Kill",
            f"kill {flag.key}",
            self.console.ops.kill_flag,
            flag.key,
        )

    def _change(
        self,
        title: str,
        summary: str,
        command: str,
        label: str,
        description: str,
        fn: object,
        *args: object,
    ) -> None:
        async def flow() -> None:
            if await ask(self.app, title, summary, command, confirm_label=label):
                await self.console.run_op(description, fn, *args)  # type: ignore[arg-type]
                self.poll_now()

        self.run_worker(flow(), group="flow")
