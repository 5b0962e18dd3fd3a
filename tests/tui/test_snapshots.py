"""Snapshots of each screen over fixed data (frozen clock, no cursor blink, Textual pinned).

Update after an intended change: ``pytest tests/tui/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import textual
from textual.widgets import DataTable

from console.tui.dialogs.confirm import ConfirmationModal
from console.tui.dialogs.forms import ReleasePicker
from console.tui.screens.canary import CanaryScreen
from console.tui.screens.flags import FlagsScreen
from console.tui.screens.history import HistoryScreen
from console.tui.screens.hosts import HostsScreen
from tests.tui.conftest import SIZE, make_app, ready, wait_for
from tests.tui.fakes import FakeConsoleData, FakeOps

PINNED_TEXTUAL = "8.2.8"  # pyproject pins it; a new Textual redraws and needs new baselines


def test_textual_is_the_version_the_snapshots_were_taken_with():
    assert textual.__version__ == PINNED_TEXTUAL


def fixed_app(**options):
    # Slow polls: fixed data, and nothing moves while the screenshot is taken.
    options.setdefault("overview_interval_s", 30)
    options.setdefault("hosts_interval_s", 30)
    options.setdefault("screen_poll_s", 30)
    return make_app(FakeConsoleData(), FakeOps(), **options)


async def select_web_production(pilot) -> None:
    app = await ready(pilot)
    while app.selected.key != "web/production":
        await pilot.press("down")
    await pilot.pause()


def test_overview_snapshot(snap_compare):
    async def run_before(pilot):
        await select_web_production(pilot)

    assert snap_compare(fixed_app(), terminal_size=SIZE, run_before=run_before)


def test_overview_read_only_snapshot(snap_compare):
    assert snap_compare(fixed_app(read_only=True), terminal_size=SIZE, run_before=ready)


def test_canary_snapshot(snap_compare):
    async def run_before(pilot):
        await select_web_production(pilot)
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CanaryScreen))
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.query_one(DataTable).row_count == 8)

    assert snap_compare(fixed_app(), terminal_size=SIZE, run_before=run_before)


def test_history_snapshot(snap_compare):
    async def run_before(pilot):
        await ready(pilot)
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen))
        await pilot.press("a")
        screen = pilot.app.screen
        await wait_for(pilot, lambda: 250 in screen.rows)

    assert snap_compare(fixed_app(), terminal_size=SIZE, run_before=run_before)


def test_flags_snapshot(snap_compare):
    async def run_before(pilot):
        await ready(pilot)
        await pilot.press("4")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, FlagsScreen))
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.rows and screen.refs is not None)
        await pilot.pause()

    assert snap_compare(fixed_app(), terminal_size=SIZE, run_before=run_before)


def test_hosts_snapshot(snap_compare):
    async def run_before(pilot):
        await ready(pilot)
        await pilot.press("5")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HostsScreen))
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.query_one("#containers", DataTable).row_count == 2)
        await wait_for(pilot, lambda: screen.query_one("#logs").lines)

    assert snap_compare(fixed_app(), terminal_size=SIZE, run_before=run_before)


def test_protected_rollback_confirmation_snapshot(snap_compare):
    async def run_before(pilot):
        await select_web_production(pilot)
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReleasePicker))
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmationModal))

    assert snap_compare(fixed_app(), terminal_size=SIZE, run_before=run_before)
