"""The console as a whole: screens, selection, production marking, read-only, keys, quit."""

from __future__ import annotations

import argparse
import threading
from dataclasses import replace

from textual.command import CommandPalette
from textual.widgets import DataTable

from console.tui.app import run_console
from console.tui.commands import ActionsProvider
from console.tui.dialogs.confirm import ConfirmationModal
from console.tui.dialogs.forms import ReleasePicker
from console.tui.dialogs.keys import KeysScreen
from console.tui.screens.canary import CanaryScreen
from console.tui.screens.flags import FlagsScreen
from console.tui.screens.history import HistoryScreen
from console.tui.screens.hosts import HostsScreen
from console.tui.screens.overview import OverviewScreen
from console.tui.widgets.chrome import ConsoleHeader, StatusLine
from tests.tui.conftest import SIZE, make_app, ready, select, wait_for


async def test_opens_on_overview_with_a_row_per_service_and_environment(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        table = app.screen.query_one("#overview-table", DataTable)
        assert isinstance(app.screen, OverviewScreen)
        assert [str(k.value) for k in table.rows] == [
            "api/production",
            "web/staging",
            "web/production",
        ]


async def test_number_keys_switch_screens(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        await ready(pilot)
        for key, screen in (
            ("2", CanaryScreen),
            ("3", HistoryScreen),
            ("4", FlagsScreen),
            ("5", HostsScreen),
            ("1", OverviewScreen),
        ):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(pilot.app.screen, screen)


async def test_selecting_a_row_focuses_the_canary_screen_on_it(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        await pilot.press("down", "down")
        assert app.selected is not None and app.selected.key == "web/production"
        await pilot.press("2")
        await wait_for(pilot, lambda: ("canary", (("web", "production"),)) in data.calls)


async def test_protected_environment_header_is_red_and_says_protected(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        header = app.screen.query_one(ConsoleHeader)
        assert not header.has_class("-protected")
        await pilot.press("down", "down")
        await pilot.pause()
        assert header.has_class("-protected")
        assert "PROTECTED" in str(header.render())


async def test_read_only_dims_every_changing_action(data, ops):
    async with make_app(data, ops, read_only=True).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        for action in ("rollback", "promote", "abort", "deploy", "lock"):
            assert app.check_action(action, ()) is None
        await pilot.press("R")
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)
        assert "READ-ONLY" in str(app.screen.query_one(ConsoleHeader).render())


async def test_promote_and_abort_are_dimmed_without_a_running_rollout(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        assert app.selected.key == "api/production"
        assert app.check_action("promote", ()) is None
        assert app.check_action("abort", ()) is None
        assert app.check_action("rollback", ()) is True
        await pilot.press("down", "down")
        assert app.check_action("promote", ()) is True
        assert app.check_action("deploy", ()) is None  # a rollout is already running


async def test_keymap_from_config_rebinds_an_action_by_binding_id(data, ops):
    async with make_app(data, ops, keymap={"rollback": "ctrl+r"}).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        await pilot.press("R")
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, ReleasePicker))


async def test_question_mark_lists_every_key_with_its_binding_id(data, ops):
    async with make_app(data, ops, read_only=True).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, KeysScreen))
        rows = {row[2]: row for row in app.screen.rows}
        assert {"rollback", "promote", "abort", "deploy", "lock", "quit", "screen.history"} <= set(
            rows
        )
        assert rows["rollback"][3] == "dimmed: read-only"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)


async def test_command_palette_offers_only_actions_valid_here(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        provider = ActionsProvider(app.screen)
        names = [name for name, _, _ in provider._commands()]
        assert "Rollback" in names and "Screen: History" in names
        assert "Promote" not in names  # api/production has no canary running
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))


async def test_command_palette_runs_the_chosen_action(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        provider = ActionsProvider(app.screen)
        command = dict((name, cmd) for name, _, cmd in provider._commands())["Screen: Flags"]
        await command()
        await wait_for(pilot, lambda: isinstance(app.screen, FlagsScreen))


async def test_quit_exits_at_once_when_nothing_runs_here(data, ops):
    app = make_app(data, ops)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_quit_asks_while_a_rollout_started_here_runs(data, ops):
    app = make_app(data, ops)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.rollouts.append(ops.start_deploy("web", "production", "v44", "canary"))
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmationModal))
        assert "deploy v44" in app.screen.summary
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, OverviewScreen))
        assert app.is_running
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmationModal))
        await pilot.press("y")
        await pilot.pause()
    assert app.return_code == 0
    assert ops.rollouts[0].poll() is None  # quitting left the rollout running


async def test_store_failure_keeps_last_data_and_says_stale_since(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        data.overview_error = RuntimeError("database is locked")
        status = app.screen.query_one(StatusLine)
        await wait_for(
            pilot, lambda: "stale since 03:00:00: database is locked" in str(status.render())
        )
        assert app.statuses["web/production"].live_release == "v42"
        assert status.has_class("-warning")


async def test_hung_host_probe_times_out_and_the_ui_keeps_answering(data, ops):
    data.hosts_hang = True
    async with make_app(data, ops, hosts_timeout_s=0.2).run_test(size=SIZE) as pilot:
        app = pilot.app
        status = app.screen.query_one(StatusLine)
        await wait_for(
            pilot, lambda: "hosts unreachable: timed out after 0.2s" in str(status.render())
        )
        await pilot.press("3")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)


async def test_a_deploy_rolled_back_elsewhere_raises_a_toast_and_rings_the_bell(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        bells = []
        app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
        web = data.status_list[2]
        data.status_list[2] = replace(
            web,
            in_progress=None,
            last_deploy=replace(web.last_deploy, outcome="rolled_back", reason="error_rate 3.1x"),
        )
        await wait_for(pilot, lambda: bells)
        messages = [n.message for n in app._notifications]
        assert any("automatic rollback" in m and "error_rate 3.1x" in m for m in messages)


async def test_refresh_is_skipped_while_a_modal_is_open(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        table = app.screen.query_one("#overview-table", DataTable)
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ReleasePicker))
        data.status_list[0] = replace(data.status_list[0], live_release="v8")
        await wait_for(pilot, lambda: app.statuses["api/production"].live_release == "v8")
        await pilot.pause(0.2)
        assert "v7" in str(table.get_cell("api/production", "live"))
        await pilot.press("escape")
        await wait_for(pilot, lambda: "v8" in str(table.get_cell("api/production", "live")))


async def test_command_palette_switches_screens_by_name(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"Flags")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FlagsScreen))


async def test_quit_asks_while_an_operation_started_here_runs(data, ops):
    ops.block = threading.Event()
    app = make_app(data, ops)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.run_worker(app.run_op("lock api", ops.lock, "api", "x"))
        await wait_for(pilot, lambda: app.running_here() == ["lock api"])
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmationModal))
        assert "lock api" in app.screen.summary
        ops.block.set()
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.running_here())


async def test_events_of_an_operation_started_here_are_toasted(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        listener = ops.listeners[0]
        thread = threading.Thread(
            target=listener,
            args=(
                "rollback_failed",
                "rollback failed: web-2 unreachable",
                {"ts": "2026-11-30T03:00:05Z"},
            ),
        )
        thread.start()
        thread.join()
        await wait_for(
            pilot, lambda: any("web-2 unreachable" in n.message for n in app._notifications)
        )
        assert app.last_event == "03:00:05 rollback failed: web-2 unreachable"


async def test_no_color_keeps_every_marker_in_words(data, ops, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        assert app.no_color
        await pilot.press("down", "down")
        await pilot.pause()
        assert "PROTECTED" in str(app.screen.query_one(ConsoleHeader).render())


async def test_every_screen_renders_in_80_by_24(data, ops):
    async with make_app(data, ops).run_test(size=(80, 24)) as pilot:
        app = await ready(pilot)
        for key in "23451":
            await pilot.press(key)
            await pilot.pause()
            screen = app.screen
            status = screen.query_one(StatusLine)
            assert status.region.y == 22 and status.region.height == 1  # above the footer
            assert screen.query_one(ConsoleHeader).region.y == 0


def test_run_console_without_a_config_exits_2_without_opening(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHIPDECK_CONFIG", raising=False)
    args = argparse.Namespace(config=None, state=str(tmp_path / "s.db"), read_only=False)
    assert run_console(args) == 2
    assert "no config found" in capsys.readouterr().err


async def test_promote_is_dimmed_when_the_rollout_process_died(data, ops):
    web = data.status_list[2]
    data.status_list[2] = replace(web, in_progress=replace(web.in_progress, interrupted=True))
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        app = await select(pilot, "web/production")
        assert app.check_action("promote", ()) is None
        assert app.check_action("abort", ()) is True  # abort rolls back to the baseline itself


async def test_slash_filters_the_overview(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        await pilot.press("slash", *"web", "enter")
        table = app.screen.query_one("#overview-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        assert [str(k.value) for k in table.rows] == ["web/staging", "web/production"]
        await pilot.press("slash", "escape")
        await wait_for(pilot, lambda: table.row_count == 3)
