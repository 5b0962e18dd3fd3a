"""5 · Hosts: which release each host actually runs, per service; containers; logs.

The matrix is built from the last host probe (the app polls it in the
background with a timeout): an unreachable host says why, and a service whose
hosts disagree (a partial failure) is marked MIXED in every cell.
"""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, RichLog, Static

from console.core.status import ContainerView, HostProbeView, ServiceStatus
from console.core.text import printable, printable_block
from console.tui.background import in_thread
from console.tui.screens.base import ConsoleScreen
from console.tui.screens.styles import COLOR_STYLES, styled
from console.tui.widgets.table import KeyedTable

CONTAINER_COLUMNS = [
    ("service", "service"),
    ("release", "release"),
    ("slot", "slot"),
    ("state", "state"),
    ("health", "health"),
    ("container", "name"),
]
LOGS_TIMEOUT_S = 15.0


def matrix_cell(
    host: str, service: str, view: HostProbeView | None, statuses: list[ServiceStatus]
) -> Text:
    """The releases ``service`` serves on ``host``; MIXED when its hosts disagree."""
    if view is None:
        return styled("…", "dim")
    if not view.reachable:
        return styled("?", "bold red")
    running: set[str] = set()
    mixed = False
    for status in statuses:
        if status.service != service or host not in status.hosts:
            continue
        running.update(status.hosts[host].running)
        mixed = mixed or status.mixed_versions
    if not running:
        present = {c.release for c in view.containers if c.service == service and c.running}
        if not present:
            return styled("-", "dim")
        running = present
    text = ",".join(sorted(running))
    if mixed:
        return styled(f"{text} ≠ MIXED", "bold reverse red")
    return styled(text, "bold")


def container_cells(container: ContainerView) -> list[Text]:
    slot = "/".join(p for p in (container.color, container.track) if p)
    health = container.health or "-"
    return [
        styled(container.service, "bold"),
        styled(container.release),
        styled(slot or "-", COLOR_STYLES.get(container.color, "")),
        styled(container.state, "" if container.running else "yellow"),
        styled(
            health,
            "bold red" if health == "unhealthy" else ("green" if health == "healthy" else ""),
        ),
        styled(container.name, "dim"),
    ]


class HostsScreen(ConsoleScreen):
    """Hosts × services matrix, the selected host's containers, the selected container's logs."""

    NAME = "hosts"
    SCREEN_TITLE = "Hosts"

    def __init__(self) -> None:
        super().__init__()
        self.host: str | None = None
        self.container: str | None = None

    def compose_body(self) -> ComposeResult:
        services = sorted({t.service for t in self.console.targets})
        yield KeyedTable(
            [("host", "host"), ("reachability", "reach"), *((s, f"svc:{s}") for s in services)],
            id="matrix",
        )
        yield Static(id="host-title", classes="subtitle")
        yield KeyedTable(CONTAINER_COLUMNS, id="containers")
        yield RichLog(id="logs", max_lines=500, wrap=False, markup=False)

    def on_mount(self) -> None:
        self.query_one("#matrix", KeyedTable).focus()

    @property
    def host_names(self) -> list[str]:
        names = {h for t in self.console.targets for h in t.hosts}
        return sorted(names | set(self.console.hosts_view))

    def refresh_view(self) -> None:
        app = self.console
        matrix = self.query_one("#matrix", KeyedTable)
        if not matrix.columns:
            return
        statuses = list(app.statuses.values())
        services = sorted({t.service for t in app.targets})
        rows = []
        for host in self.host_names:
            view = app.hosts_view.get(host)
            if view is None:
                reach = styled("probing…" if not app.hosts_health.last_ok else "not probed", "dim")
            elif view.reachable:
                reach = styled(f"ok {view.docker_version or ''}".strip(), "green")
            else:
                reach = styled("UNREACHABLE", "bold red")
            cells = [styled(host, "bold"), reach]
            cells += [matrix_cell(host, s, view, statuses) for s in services]
            rows.append((host, cells))
        matrix.sync(rows)
        if self.host is None and rows:
            self.host = rows[0][0]
        self._show_containers()

    def _show_containers(self) -> None:
        title = self.query_one("#host-title", Static)
        containers = self.query_one("#containers", KeyedTable)
        if self.host is None:
            title.update("")
            return
        view = self.console.hosts_view.get(self.host)
        selected = self.console.selected
        text = Text(f"{self.host}: ", style="bold")
        if view is None:
            text.append("no probe answer yet", style="dim")
        elif not view.reachable:
            text.append(
                f"unreachable: {printable(str(view.error))} (showing nothing it ran)",
                style="bold red",
            )
        else:
            text.append(f"{len(view.containers)} shipdeck containers")
        title.update(text)
        items = list(view.containers if view else ())
        if selected:
            items.sort(key=lambda c: (c.service != selected.service, c.name))
        if containers.columns:
            containers.sync([(c.name, container_cells(c)) for c in items])

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = str(event.row_key.value) if event.row_key.value is not None else None
        if event.data_table.id == "matrix":
            if key != self.host:
                self.host = key
                self.container = None
                self._show_containers()
        elif event.data_table.id == "containers" and key and key != self.container:
            self.container = key
            self.run_worker(self._load_logs(self.host, key), group="logs", exclusive=True)

    async def _load_logs(self, host: str | None, container: str) -> None:
        logs = self.query_one("#logs", RichLog)
        logs.clear()
        if host is None:
            return
        logs.write(Text(f"{host} · {container}: recent logs…", style="dim"))
        data = self.console.data

        def read() -> str:
            return asyncio.run(
                asyncio.wait_for(data.container_logs(host, container), LOGS_TIMEOUT_S)
            )

        try:
            text = await in_thread(read)
        except TimeoutError:
            text = None
            message = f"unreachable: no logs within {LOGS_TIMEOUT_S:g}s"
        except Exception as error:
            text = None
            lines = str(error).strip().splitlines()
            message = f"unreachable: {lines[0] if lines else type(error).__name__}"
        if self.container != container:
            return
        logs.clear()
        if text is None:
            logs.write(Text(f"{host} · {container}: {printable(message)}", style="bold red"))
            return
        logs.write(Text(f"{host} · {container}", style="bold"))
        for line in text.splitlines()[-200:]:
            # A log line holds whatever a client sent the app: SGR colours and other
            # escape sequences are dropped (``from_ansi``), any other control shown escaped.
            logs.write(Text(printable_block(Text.from_ansi(line).plain)))
