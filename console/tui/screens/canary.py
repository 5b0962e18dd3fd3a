"""2 · Canary: the running (or last) canary, canary beside baseline, the judge's word.

Polled every second in a worker (reading only new analysis events each
time), so the countdown and the chart move without ever blocking a key.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from console.core.store import Outcome
from console.core.text import printable
from console.tui.data import CanaryView, MetricView
from console.tui.display import bar, format_ratio, format_value, time_left
from console.tui.screens.base import ConsoleScreen
from console.tui.screens.styles import outcome, styled, verdict
from console.tui.widgets.chart import PairChart
from console.tui.widgets.table import KeyedTable

COLUMNS = [
    ("metric", "metric"),
    ("canary", "canary"),
    ("baseline", "baseline"),
    ("ratio", "ratio"),
    ("verdict", "verdict"),
    ("why", "why"),
]


def summary_text(view: CanaryView, now_text: str | None) -> Text:
    text = Text(no_wrap=False)
    text.append(f"{view.service} / {view.environment}", style="bold")
    # Release names, the operator and the reason come from the store: one line each.
    to_release, from_release = (
        printable(view.to_release or "?"),
        printable(view.from_release or "-"),
    )
    text.append(f"  canary {to_release} vs baseline {from_release}")
    text.append(f"  #{view.deployment_id} by {printable(view.operator)}  ")
    text.append_text(outcome(view.outcome.replace("_", " "), view.outcome))
    text.append("\nweight ")
    text.append(f"{bar(view.weight_pct, 10)} {view.weight_pct:>3}%", style="bold")
    if view.steps:
        text.append(f"  step {min(view.step_index + 1, len(view.steps))}/{len(view.steps)}")
    if view.running and now_text:
        text.append(f"  {now_text}", style="bold")
    text.append("  judge: ")
    text.append_text(verdict(view.overall or "pending"))
    if view.reason:
        text.append(
            f"\n{printable(view.reason)}",
            style="bold red" if view.outcome != Outcome.SUCCEEDED else "",
        )
    return text


def steps_text(view: CanaryView) -> Text:
    text = Text()
    text.append("steps\n", style="bold underline")
    for index, step in enumerate(view.steps):
        if index < view.step_index or (view.outcome == Outcome.SUCCEEDED):
            text.append(f"✓ {step}\n", style="dim")
        elif index == view.step_index and view.running:
            text.append(f"▶ {step}\n", style="bold reverse")
        else:
            text.append(f"· {step}\n")
    if not view.steps:
        text.append("(no steps recorded)", style="dim")
    return text


def metric_cells(metric: MetricView) -> list[Text]:
    ratio = metric.ratio
    return [
        styled(metric.name, "bold"),
        styled(format_value(metric.canary)),
        styled(format_value(metric.baseline)),
        styled(format_ratio(ratio), "bold red" if ratio is not None and ratio > 1.2 else ""),
        verdict(metric.verdict),
        styled(metric.explanation or "-", "dim" if not metric.explanation else ""),
    ]


class CanaryScreen(ConsoleScreen):
    """Canary vs baseline per metric, the judge's verdicts, the steps and the time left."""

    NAME = "canary"
    SCREEN_TITLE = "Canary"
    POLL_INTERVAL_S = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.view: CanaryView | None = None
        self._target: tuple[str, str] | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(id="canary-summary", classes="summary")
        with Horizontal(id="canary-body"):
            yield Static(id="steps", classes="steps")
            with Vertical(id="canary-metrics"):
                yield KeyedTable(COLUMNS, id="metrics")
                yield PairChart(id="chart")

    def on_mount(self) -> None:
        self.query_one("#metrics", KeyedTable).focus()

    def resumed(self) -> None:
        selected = self.console.selected
        target = (selected.service, selected.environment) if selected else None
        if target != self._target:
            self._target = target
            self.view = None
            self.query_one("#metrics", KeyedTable).reset()

    def fetch(self) -> CanaryView | None:
        return self.console.data.canary(self._target)

    def show(self, result: CanaryView | None) -> None:
        self.view = result
        self._render_view()

    def refresh_view(self) -> None:
        self._render_view()

    def _render_view(self) -> None:
        summary = self.query_one("#canary-summary", Static)
        steps = self.query_one("#steps", Static)
        table = self.query_one("#metrics", KeyedTable)
        view = self.view
        if view is None:
            where = "/".join(self._target) if self._target else "any service"
            waiting = "loading…" if not self.freshness.last_ok else f"no canary yet for {where}"
            summary.update(Text(waiting, style="dim"))
            steps.update("")
            self.query_one(PairChart).show(None)
            return
        now = self.console.data.clock.now()
        summary.update(summary_text(view, time_left(view.step_ends_at, now)))
        steps.update(steps_text(view))
        if table.columns:
            table.sync([(m.name, metric_cells(m)) for m in view.metrics])
        self._chart()

    def _chart(self) -> None:
        table = self.query_one("#metrics", KeyedTable)
        key = table.selected_key()
        metrics = {m.name: m for m in (self.view.metrics if self.view else ())}
        metric = metrics.get(key or "") or next(iter(metrics.values()), None)
        self.query_one(PairChart).show(metric)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._chart()
