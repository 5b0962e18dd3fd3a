"""Canary: canary beside baseline per metric, ratio, verdict, steps, time left, live updates."""

from __future__ import annotations

from dataclasses import replace

from textual.widgets import DataTable, Static

from console.tui.screens.canary import CanaryScreen
from console.tui.widgets.chart import PairChart
from tests.tui.conftest import SIZE, make_app, ready, select, wait_for


async def open_canary(pilot) -> CanaryScreen:
    app = await select(pilot, "web/production")
    await pilot.press("2")
    await wait_for(pilot, lambda: isinstance(app.screen, CanaryScreen))
    screen = app.screen
    await wait_for(pilot, lambda: screen.view is not None and screen.query_one(DataTable).row_count)
    return screen


async def test_canary_shows_each_metric_with_ratio_and_verdict(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_canary(pilot)
        table = screen.query_one(DataTable)
        assert table.row_count == 8
        cells = [str(c) for c in table.get_row("error_rate")]
        assert cells == [
            "error_rate",
            "0.071",
            "0.023",
            "3.09×",
            "FAIL",
            "3.1x baseline (credible)",
        ]


async def test_canary_highlights_the_current_step_and_the_time_left(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_canary(pilot)
        steps = str(screen.query_one("#steps", Static).render())
        assert "✓ weight 25%" in steps and "▶ analysis default for 600s" in steps
        summary = str(screen.query_one("#canary-summary", Static).render())
        assert "4m 10s left" in summary and "step 4/5" in summary and "25%" in summary


async def test_canary_updates_live_without_a_key_press(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_canary(pilot)
        data.canary_answer = replace(data.canary_answer, weight_pct=50, step_index=4)
        summary = screen.query_one("#canary-summary", Static)
        await wait_for(pilot, lambda: " 50%" in str(summary.render()))


async def test_the_chart_follows_the_highlighted_metric(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_canary(pilot)
        chart = screen.query_one(PairChart)
        assert chart.metric.name == "error_rate"
        await pilot.press("down")
        assert chart.metric.name == "p50_latency_ms"
        text = str(chart.render())
        assert "canary" in text and "baseline" in text and "scale" in text


async def test_a_service_without_canary_says_so(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, CanaryScreen))
        summary = app.screen.query_one("#canary-summary", Static)
        await wait_for(pilot, lambda: "no canary yet for api/production" in str(summary.render()))
