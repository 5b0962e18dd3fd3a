"""Flags: state per environment, stale markers, references; space, +/-, k, e, Enter."""

from __future__ import annotations

from textual.widgets import DataTable

from console.tui.dialogs.confirm import ConfirmationModal
from console.tui.screens.flag_detail import FlagDetailScreen
from console.tui.screens.flags import FlagsScreen
from tests.tui.conftest import SIZE, make_app, ready, wait_for


async def open_flags(pilot, key: str = "beta-reports") -> FlagsScreen:
    await ready(pilot)
    await pilot.press("4")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, FlagsScreen))
    screen = pilot.app.screen
    await wait_for(pilot, lambda: screen.rows and screen.refs is not None)
    table = screen.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(key))
    await pilot.pause()
    return screen


async def confirm_shown(pilot) -> ConfirmationModal:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmationModal))
    return pilot.app.screen


async def test_flags_table_shows_state_bar_stale_reason_and_references(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_flags(pilot)
        table = screen.query_one(DataTable)
        assert str(table.get_cell("beta-reports", "production")) == "on █░░░  25%"
        assert str(table.get_cell("payments-kill", "staging")) == "KILLED"
        assert str(table.get_cell("dark-mode", "stale")) == "⚑ fully on +1"
        assert str(table.get_cell("dark-mode", "refs")) == "7"


async def test_space_toggles_the_flag_after_confirmation(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        await open_flags(pilot)
        await pilot.press("space")
        modal = await confirm_shown(pilot)
        assert modal.summary == "beta-reports: production on → off"
        assert modal.command == "shipdeck flags off beta-reports --env production"
        await pilot.press("y")
        await wait_for(pilot, lambda: ops.calls)
        assert ops.calls == [("set_flag_enabled", ("beta-reports", "production", False))]


async def test_plus_steps_the_percentage_up(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        await open_flags(pilot)
        await pilot.press("plus")
        modal = await confirm_shown(pilot)
        assert modal.summary == "beta-reports: production 25% → 50%"
        await pilot.press("y")
        await wait_for(pilot, lambda: ops.calls)
        assert ops.calls == [("set_flag_percent", ("beta-reports", "production", 50))]


async def test_minus_steps_the_percentage_down_and_cancel_changes_nothing(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_flags(pilot)
        await pilot.press("minus")
        modal = await confirm_shown(pilot)
        assert modal.summary == "beta-reports: production 25% → 10%"
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is screen)
        assert ops.calls == []


async def test_k_is_the_kill_switch_after_confirmation(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        await open_flags(pilot, "new-checkout")
        await pilot.press("k")
        modal = await confirm_shown(pilot)
        assert modal.command == "shipdeck flags kill new-checkout"
        await pilot.press("y")
        await wait_for(pilot, lambda: ops.calls)
        assert ops.calls == [("kill_flag", ("new-checkout",))]


async def test_e_switches_the_environment_the_keys_act_on(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_flags(pilot, "new-checkout")
        await pilot.press("e")
        assert screen.environment == "staging"
        await pilot.press("space")
        modal = await confirm_shown(pilot)
        assert modal.summary == "new-checkout: staging on → off"


async def test_enter_opens_details_with_the_audit_history(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        await open_flags(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, FlagDetailScreen))
        body = pilot.app.screen.query_one("#flag-detail")
        await wait_for(pilot, lambda: "production_percent 10 → 25" in str(body.render()))


async def test_flag_changes_are_dimmed_in_read_only(data, ops):
    async with make_app(data, ops, read_only=True).run_test(size=SIZE) as pilot:
        screen = await open_flags(pilot)
        assert screen.check_action("toggle", ()) is None
        await pilot.press("space", "k", "plus")
        await pilot.pause(0.1)
        assert pilot.app.screen is screen and ops.calls == []


async def test_slash_filters_flags_by_owner(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_flags(pilot)
        await pilot.press("slash", *"pay", "enter")
        table = screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        assert {str(k.value) for k in table.rows} == {"new-checkout", "payments-kill"}
