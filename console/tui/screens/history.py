"""3 · History: deployments newest first, paged from the store by keyset, filtered with ``/``.

Only one page is read when the screen opens (50 rows of a million cost the
same as of ten); scrolling near the end reads the next page. Each poll
re-reads the first page only, adds what is new and updates what changed by
row key. Enter opens the deployment's event timeline.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.core.text import printable
from console.tui.actions import bindings
from console.tui.background import in_thread
from console.tui.data import HistoryRow
from console.tui.display import duration, stamp
from console.tui.screens.base import ConsoleScreen
from console.tui.screens.styles import outcome, styled
from console.tui.screens.timeline import TimelineScreen
from console.tui.widgets.table import KeyedTable

PAGE_SIZE = 100
LOAD_MORE_WITHIN = 10
COLUMNS = [
    ("#", "id"),
    ("time", "time"),
    ("service", "service"),
    ("env", "env"),
    ("from → to", "change"),
    ("strategy", "strategy"),
    ("operator", "operator"),
    ("outcome", "outcome"),
    ("duration", "duration"),
]


def history_cells(row: HistoryRow, tz: object = None) -> list[Text]:
    kind = "" if row.kind == "deploy" else f"{row.kind} "
    return [
        styled(f"#{row.id}", "dim"),
        styled(stamp(row.started_at, tz)),  # type: ignore[arg-type]
        styled(row.service, "bold"),
        styled(row.environment),
        styled(f"{row.from_release or '-'} → {row.to_release or '-'}"),
        styled(f"{kind}{row.strategy}"),
        styled(row.operator),
        outcome(row.outcome.replace("_", " "), row.outcome),
        styled(duration(row.duration_s)),
    ]


@dataclass(frozen=True)
class Page:
    """One page read from the store, for the query it answered."""

    query: tuple[str, str | None]
    before_id: int | None
    rows: list[HistoryRow]


class HistoryScreen(ConsoleScreen):
    """Deployments table: newest first, ``/`` filters, Enter opens the timeline."""

    NAME = "history"
    SCREEN_TITLE = "History"
    POLL_INTERVAL_S = 2.0
    FILTER_PLACEHOLDER = "filter: service, operator, outcome, reason (read from the store)"
    FILTER_DEBOUNCE_S = 0.3
    BINDINGS = bindings("history")

    def __init__(self) -> None:
        super().__init__()
        self.all_services = False
        self.rows: dict[int, HistoryRow] = {}
        self.exhausted = False
        self.loading_more = False

    def compose_body(self) -> ComposeResult:
        yield Static(id="history-scope", classes="subtitle")
        yield KeyedTable(COLUMNS, id="history-table")

    def on_mount(self) -> None:
        self.query_one(KeyedTable).focus()

    # -- what is shown -----------------------------------------------------------------------

    @property
    def service(self) -> str | None:
        selected = self.console.selected
        return None if self.all_services or selected is None else selected.service

    @property
    def current_query(self) -> tuple[str, str | None]:
        return self.filter_text, self.service

    def resumed(self) -> None:
        self._scope_line()

    def _scope_line(self) -> None:
        scope = "all services" if self.service is None else f"{self.service} only"
        other = "this service" if self.service is None else "all services"
        text = Text(f"{scope} · ", style="")
        if self.filter_text:
            text.append(f"filter “{printable(self.filter_text)}” · ", style="bold")
        text.append(f"{len(self.rows)} loaded{'' if not self.exhausted else ' (all)'}")
        text.append(f" · a: {other} · /: filter · Enter: timeline", style="dim")
        self.query_one("#history-scope", Static).update(text)

    def fetch(self) -> Page:
        """The first page for the current query (new deployments, changed outcomes)."""
        query = self.current_query
        rows = self.console.data.history_page(query[0], None, PAGE_SIZE, service=query[1])
        return Page(query, None, rows)

    def show(self, result: Page) -> None:
        if result.query != self.current_query:
            return  # answered an older filter; the new one is on its way
        table = self.query_one(KeyedTable)
        first_load = not self.rows
        newest = max(self.rows, default=0)
        fresh = [r for r in result.rows if r.id > newest]
        known = [r for r in result.rows if r.id in self.rows]
        for row in result.rows:
            self.rows[row.id] = row
        tz = self.console.tz
        if first_load or not fresh:
            table.sync(
                [(str(r.id), history_cells(r, tz)) for r in (fresh + known)], append_only=True
            )
        else:
            # New deployments go on top: rebuild in id order, cursor kept by key.
            ordered = sorted(self.rows.values(), key=lambda r: r.id, reverse=True)
            table.sync([(str(r.id), history_cells(r, tz)) for r in ordered])
        if first_load and len(result.rows) < PAGE_SIZE:
            self.exhausted = True
        self._scope_line()

    # -- paging --------------------------------------------------------------------------------

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        table = self.query_one(KeyedTable)
        if (
            not self.exhausted
            and not self.loading_more
            and self.rows
            and event.cursor_row >= table.row_count - LOAD_MORE_WITHIN
        ):
            self.loading_more = True
            self.run_worker(
                self._load_more(self.current_query, min(self.rows)), group="history-page"
            )

    async def _load_more(self, query: tuple[str, str | None], before_id: int) -> None:
        try:
            rows = await in_thread(
                self.console.data.history_page, query[0], before_id, PAGE_SIZE, query[1]
            )
        except Exception as error:
            self.freshness.failed(str(error).splitlines()[0] if str(error) else "failed")
            rows = []
        finally:
            self.loading_more = False
        if query != self.current_query:
            return
        if len(rows) < PAGE_SIZE:
            self.exhausted = True
        for row in rows:
            self.rows[row.id] = row
        self.query_one(KeyedTable).sync(
            [(str(r.id), history_cells(r, self.console.tz)) for r in rows], append_only=True
        )
        self._scope_line()

    def _restart(self) -> None:
        """The query changed: forget what is loaded and read its first page."""
        self.rows.clear()
        self.exhausted = False
        self.query_one(KeyedTable).reset()
        self._scope_line()
        self.poll_now()

    # -- keys ----------------------------------------------------------------------------------

    def row_open(self) -> bool:
        """Enter opens a timeline: the table has the focus and rows."""
        return isinstance(self.focused, DataTable) and bool(self.rows)

    def filter_changed(self) -> None:
        self._restart()  # the store filters: read the first page of the new query

    def action_scope(self) -> None:
        self.all_services = not self.all_services
        self._restart()

    def action_open(self) -> None:
        key = self.query_one(KeyedTable).selected_key()
        if key is not None and int(key) in self.rows:
            self.app.push_screen(TimelineScreen(self.rows[int(key)]))
