"""History: one page on open, more on scroll, ``/`` filter, Enter for the timeline, live rows."""

from __future__ import annotations

from dataclasses import replace

from textual.widgets import DataTable, Input

from console.tui.screens.history import PAGE_SIZE, HistoryScreen
from console.tui.screens.timeline import TimelineScreen
from tests.tui.conftest import SIZE, make_app, ready, wait_for


async def open_history(pilot, all_services: bool = True) -> HistoryScreen:
    await ready(pilot)
    await pilot.press("3")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen))
    screen = pilot.app.screen
    if all_services and not screen.all_services:
        await pilot.press("a")
    await wait_for(pilot, lambda: screen.rows)
    return screen


def table_ids(screen: HistoryScreen) -> list[int]:
    return [int(str(k.value)) for k in screen.query_one(DataTable).rows]


async def test_history_opens_with_one_page_newest_first(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_history(pilot)
        ids = table_ids(screen)
        assert ids[:3] == [250, 249, 248] and len(ids) == PAGE_SIZE
        pages = [c for c in data.calls if c[0] == "history_page"]
        assert all(args[1] is None for _, args in pages)  # nothing but first pages read


async def test_history_is_scoped_to_the_selected_service_until_a_is_pressed(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_history(pilot, all_services=False)
        assert {data.history[250 - i].service for i in table_ids(screen)} == {"api"}
        await pilot.press("a")
        await wait_for(pilot, lambda: 250 in screen.rows)
        assert table_ids(screen)[0] == 250


async def test_history_pages_more_when_the_cursor_nears_the_end(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_history(pilot)
        screen.query_one(DataTable).move_cursor(row=PAGE_SIZE - 2)
        await wait_for(pilot, lambda: len(screen.rows) > PAGE_SIZE)
        assert ("history_page", ("", 151, PAGE_SIZE, None)) in data.calls
        assert table_ids(screen)[PAGE_SIZE] == 150


async def test_slash_filters_history(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_history(pilot)
        await pilot.press("slash")
        assert screen.query_one("#filter", Input).has_focus
        await pilot.press(*"bob", "enter")
        await wait_for(pilot, lambda: screen.filter_text == "bob" and screen.rows)
        await wait_for(pilot, lambda: all(r.operator == "bob@ops" for r in screen.rows.values()))
        assert all(data.history[250 - i].operator == "bob@ops" for i in table_ids(screen))


async def test_escape_clears_the_filter(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_history(pilot)
        await pilot.press("slash", *"roll", "enter")
        await wait_for(pilot, lambda: screen.filter_text == "roll")
        await pilot.press("slash", "escape")
        await wait_for(pilot, lambda: screen.filter_text == "" and 250 in screen.rows)
        assert not screen.query_one("#filter", Input).display


async def test_enter_opens_the_event_timeline_of_the_deployment(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_history(pilot)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, TimelineScreen))
        timeline = pilot.app.screen
        assert timeline.row.id == 249
        await wait_for(pilot, lambda: timeline.query_one(DataTable).row_count == 3)
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is screen)


async def test_new_deployments_from_other_processes_appear_on_top(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_history(pilot)
        newest = replace(data.history[0], id=251, operator="carol@cli", outcome="in_progress")
        data.history.insert(0, newest)
        await wait_for(pilot, lambda: 251 in screen.rows, timeout=5)
        assert table_ids(screen)[0] == 251


async def test_a_finished_deployment_updates_its_row_in_place(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_history(pilot)
        data.history[0] = replace(data.history[0], outcome="succeeded", duration_s=61.0)
        table = screen.query_one(DataTable)
        await wait_for(
            pilot, lambda: "succeeded" in str(table.get_cell("250", "outcome")), timeout=5
        )
        assert str(table.get_cell("250", "duration")) == "1m01s"
