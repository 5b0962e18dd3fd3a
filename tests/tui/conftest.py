"""Console tests: the app driven by Pilot over fake data and recording operations."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC
from typing import Any

import pytest
from textual.pilot import Pilot

from console.tui.app import ShipdeckApp
from tests.tui.fakes import FakeConsoleData, FakeOps

SIZE = (100, 30)


def make_app(
    data: FakeConsoleData | None = None, ops: FakeOps | None = None, **options: Any
) -> ShipdeckApp:
    options.setdefault("tz", UTC)
    options.setdefault("cursor_blink", False)
    options.setdefault("overview_interval_s", 0.2)
    options.setdefault("hosts_interval_s", 1.0)
    options.setdefault("screen_poll_s", 0.2)
    return ShipdeckApp(data or FakeConsoleData(), ops or FakeOps(), **options)


async def wait_for(pilot: Pilot, condition: Callable[[], object], timeout: float = 6.0) -> None:
    """Pause until ``condition()`` holds (workers and polls run in the background)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await pilot.pause(0.02)


async def ready(pilot: Pilot) -> ShipdeckApp:
    """Wait for the first overview poll to be shown."""
    app = pilot.app
    assert isinstance(app, ShipdeckApp)
    await wait_for(pilot, lambda: app.statuses and app.hosts_view)
    await pilot.pause()
    return app


async def select(pilot: Pilot, key: str) -> ShipdeckApp:
    """Select a service/environment as the Overview cursor would (without a key per row)."""
    app = await ready(pilot)
    app.select(key)  # reactive: the visible screen follows by itself
    await pilot.pause()
    return app


@pytest.fixture
def data() -> FakeConsoleData:
    return FakeConsoleData()


@pytest.fixture
def ops() -> FakeOps:
    return FakeOps()
