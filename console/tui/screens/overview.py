"""1 · Overview: every service × environment at a glance; selecting one focuses the rest.

Rows are keyed ``service/environment`` and come from config first (so the
table paints before the store answers), then each poll updates only the
cells that changed.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.core.status import ServiceStatus
from console.core.text import printable
from console.tui.data import Target
from console.tui.display import health_text, last_text, rollout_text
from console.tui.screens.base import ConsoleScreen
from console.tui.screens.styles import outcome, release, styled
from console.tui.widgets.table import KeyedTable

# Most important first: at 80 columns the rightmost ones scroll.
COLUMNS = [
    ("service", "service"),
    ("env", "env"),
    ("live", "live"),
    ("rollout", "rollout"),
    ("health", "health"),
    ("last", "last"),
    ("lock", "lock"),
    ("standby", "standby"),
]


def overview_cells(target: Target, status: ServiceStatus | None) -> list[Text]:
    """One row of the overview table (pure: unit-tested through the screen)."""
    env = styled(
        target.environment + (" ⚠" if target.protected else ""),
        "bold red" if target.protected else "",
    )
    if status is None:
        return [styled(target.service, "bold"), env] + [styled("…", "dim")] * 6
    standby = release(status.standby_release, status.standby_color)
    progress = status.in_progress
    rollout = styled(
        rollout_text(status, len(target.steps)),
        "bold red" if progress and progress.interrupted else ("bold cyan" if progress else "dim"),
    )
    last = status.last_deploy
    lock = status.lock
    lock_text = (
        styled(f"{lock.holder}{' (stale)' if lock.stale else ''}", "bold yellow")
        if lock
        else styled("-", "dim")
    )
    health = health_text(status, target)
    health_style = (
        "bold red"
        if health.startswith("MIXED") or "down" in health or "unhealthy" in health
        else ("dim" if health.startswith("probing") else "green")
    )
    return [
        styled(target.service, "bold"),
        env,
        release(status.live_release, status.live_color),
        rollout,
        styled(health, health_style),
        outcome(last_text(status), last.outcome if last else None),
        lock_text,
        standby,
    ]


def detail_text(target: Target, status: ServiceStatus | None) -> Text:
    """A few lines about the selected row: rollout, lock, hosts, drill."""
    text = Text()
    text.append(f"{target.service} / {target.environment}", style="bold")
    if target.protected:
        text.append("  PROTECTED", style="bold red")
    if status is None:
        text.append("\nwaiting for the state store…", style="dim")
        return text
    # Release names, operators, reasons, lock text and host errors are not
    # shipdeck's words: each goes through ``printable`` (one line, no escapes).
    live = (
        f"live {printable(status.live_release)} ({status.live_color})"
        if status.live_release
        else "nothing live"
    )
    text.append(f" — {live}")
    if status.standby_release:
        text.append(
            f" · standby {printable(status.standby_release)} ({status.standby_color}, warm)"
        )
    if status.canary_release:
        text.append(f" · canary {printable(status.canary_release)} at {status.canary_weight_pct}%")
    progress = status.in_progress
    if progress:
        text.append(
            f"\nrollout #{progress.id} {progress.kind}/{progress.strategy} "
            f"by {printable(progress.operator)}: "
            f"{printable(progress.step or 'starting')}"
        )
        if progress.interrupted:
            text.append(
                f"  INTERRUPTED: no heartbeat for {progress.heartbeat_age_s}s — "
                f"A rolls back, or: shipdeck deploy {target.service} --resume",
                style="bold red",
            )
    if status.lock:
        text.append(f"\n{printable(status.lock.text)}", style="yellow")
    if status.last_deploy:
        last = status.last_deploy
        text.append(f"\nlast: #{last.id} {last.kind} ")
        text.append(str(last.outcome), style=outcome("", last.outcome).style)
        if last.reason:
            text.append(f": {printable(last.reason)}")
    if status.hosts:
        text.append("\nhosts: ")
        for i, (host, view) in enumerate(sorted(status.hosts.items())):
            if i:
                text.append(" · ")
            if view.reachable:
                running = ", ".join(printable(r) for r in view.running)
                text.append(f"{host} {running or 'nothing running'}")
            else:
                error = printable(str(view.error))
                text.append(f"{host} unreachable: {error}", style="bold red")
        if status.mixed_versions:
            text.append("  MIXED VERSIONS", style="bold red")
    if status.drill and status.drill.warning:
        text.append(f"\ndrill: {status.drill.warning}", style="dim")
    return text


class OverviewScreen(ConsoleScreen):
    """Every service × environment: live, standby, rollout, last outcome, lock, health."""

    NAME = "overview"
    SCREEN_TITLE = "Overview"
    FILTER_PLACEHOLDER = "filter: service or environment"

    def compose_body(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="overview-table")
        yield Static(id="detail", classes="detail")

    def on_mount(self) -> None:
        self.refresh_view()
        self.query_one(KeyedTable).focus()

    def refresh_view(self) -> None:
        app = self.console
        table = self.query_one(KeyedTable)
        if not table.columns:
            return
        table.sync(
            [
                (t.key, overview_cells(t, app.statuses.get(t.key)))
                for t in app.targets
                if self.matches(t.service, t.environment, t.key)
            ]
        )
        selected = app.selected.key if app.selected else None
        if selected and table.selected_key() != selected and selected in table.row_keys():
            table.move_cursor(row=table.get_row_index(selected))
        self._show_detail()

    def _show_detail(self) -> None:
        app = self.console
        detail = self.query_one("#detail", Static)
        if app.selected is None:
            detail.update(Text("no services configured", style="dim"))
            return
        detail.update(detail_text(app.selected, app.statuses.get(app.selected.key)))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.console.select(str(event.row_key.value))
            self._show_detail()
