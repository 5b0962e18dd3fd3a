"""Canary and baseline of one metric over the analysis window, on one shared scale.

Textual's Sparkline scales each series to its own min and max, which would
make a canary at twice the baseline's error rate look identical to it; this
chart draws both rows against the same range and prints the range.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from console.tui.data import MetricView
from console.tui.display import format_value, series_range, sparkline

LABEL_WIDTH = 10


class PairChart(Widget):
    """Two block-character rows (canary, baseline) plus a scale line."""

    DEFAULT_CSS = """
    PairChart { height: 4; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.metric: MetricView | None = None

    def show(self, metric: MetricView | None) -> None:
        if metric != self.metric:
            self.metric = metric
            self.refresh()

    def render(self) -> Text:
        metric = self.metric
        if metric is None:
            return Text("select a metric to chart it", style="dim")
        width = max(4, self.size.width - LABEL_WIDTH - 12)
        low, high = series_range(metric.canary_series, metric.baseline_series)
        text = Text(no_wrap=True, overflow="crop")
        text.append(f"{metric.name}\n", style="bold")
        for label, series, value, style in (
            ("canary", metric.canary_series, metric.canary, "bold"),
            ("baseline", metric.baseline_series, metric.baseline, ""),
        ):
            text.append(f"{label:<{LABEL_WIDTH}}")
            if series:
                text.append(sparkline(series, width, low, high), style=style)
            else:
                text.append("no samples yet".ljust(width), style="dim")
            text.append(f" {format_value(value):>10}\n")
        looks = max(len(metric.canary_series), len(metric.baseline_series))
        text.append(
            f"{'':<{LABEL_WIDTH}}scale {format_value(low)}–{format_value(high)}, "
            f"{looks} look{'s' if looks != 1 else ''}",
            style="dim",
        )
        return text
