"""Hosts: the release each host runs per service, reachability, containers, logs."""

from __future__ import annotations

from dataclasses import replace

from textual.widgets import DataTable, RichLog, Static

from console.tui.screens.hosts import HostsScreen
from tests.tui.conftest import SIZE, make_app, ready, wait_for


async def open_hosts(pilot) -> HostsScreen:
    app = await ready(pilot)
    await pilot.press("5")
    await wait_for(pilot, lambda: isinstance(app.screen, HostsScreen))
    screen = app.screen
    await wait_for(pilot, lambda: screen.query_one("#matrix", DataTable).row_count == 3)
    return screen


def log_text(screen: HostsScreen) -> str:
    return "\n".join(line.text for line in screen.query_one(RichLog).lines)


async def test_matrix_shows_the_release_each_host_runs_per_service(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_hosts(pilot)
        matrix = screen.query_one("#matrix", DataTable)
        assert str(matrix.get_cell("api-1", "svc:api")) == "v7"
        assert str(matrix.get_cell("web-1", "svc:web")) == "v42,v43"
        assert str(matrix.get_cell("api-1", "svc:web")) == "-"


async def test_an_unreachable_host_is_marked_and_says_why(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_hosts(pilot)
        matrix = screen.query_one("#matrix", DataTable)
        assert str(matrix.get_cell("web-2", "reach")) == "UNREACHABLE"
        assert str(matrix.get_cell("web-2", "svc:web")) == "?"
        matrix.move_cursor(row=matrix.get_row_index("web-2"))
        title = screen.query_one("#host-title", Static)
        await wait_for(pilot, lambda: "ssh: connection timed out" in str(title.render()))


async def test_mixed_versions_after_a_partial_failure_stand_out(data, ops):
    for i, status in enumerate(data.status_list):
        if status.service == "web" and status.environment == "production":
            data.status_list[i] = replace(status, mixed_versions=True)
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_hosts(pilot)
        matrix = screen.query_one("#matrix", DataTable)
        assert "MIXED" in str(matrix.get_cell("web-1", "svc:web"))


async def test_the_selected_hosts_containers_are_listed_with_health(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_hosts(pilot)
        matrix = screen.query_one("#matrix", DataTable)
        matrix.move_cursor(row=matrix.get_row_index("web-1"))
        containers = screen.query_one("#containers", DataTable)
        await wait_for(pilot, lambda: containers.row_count == 3)
        row = [str(c) for c in containers.get_row("web-green-canary-1")]
        assert row[:5] == ["web", "v43", "green/canary", "running", "healthy"]


async def test_selecting_a_container_shows_its_recent_logs(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_hosts(pilot)
        containers = screen.query_one("#containers", DataTable)
        await wait_for(pilot, lambda: containers.row_count == 2)
        containers.focus()
        containers.move_cursor(row=1)
        await wait_for(pilot, lambda: "api-1 · api-green-1" in log_text(screen))
        await wait_for(pilot, lambda: "GET /healthz 200" in log_text(screen))
        assert ("logs", ("api-1", "api-green-1")) in data.calls


async def test_logs_of_a_failing_host_say_unreachable_and_why(data, ops):
    data.logs_answer = ConnectionError("ssh: connection reset")
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        screen = await open_hosts(pilot)
        containers = screen.query_one("#containers", DataTable)
        await wait_for(pilot, lambda: containers.row_count == 2)
        containers.move_cursor(row=1)
        await wait_for(pilot, lambda: "unreachable: ssh: connection reset" in log_text(screen))
