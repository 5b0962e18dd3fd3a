"""A failing webhook whose URL carries tokens leaves no token in the state DB, stdout or stderr.

The notification runs through the real path (``OpContext.notify`` → engines'
``send_webhooks`` → a closed loopback port → ``notification_failed`` recorded
in the store); ``config check`` runs in-process as the CLI does.
"""

from __future__ import annotations

import asyncio
import io
import socket
import textwrap
from pathlib import Path

import pytest

from console.cli import run
from console.cli_commands.output import Output
from console.core.clock import Clock
from console.core.config import load_config
from console.core.fleet import Fleet
from console.core.ops.context import OpContext
from console.core.store import open_store

TOKENS = ("SECRETTOKEN1", "SECRETTOKEN2", "SECRETTOKEN3", "SECRETTOKEN4", "SECRETTOKEN5")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    port = _closed_port()
    path = tmp_path / "shipdeck.toml"
    path.write_text(
        textwrap.dedent(
            f"""\
            state_path = "{tmp_path / "state" / "state.db"}"
            [hosts.web-1]
            address = "local"
            [load_balancers.edge]
            kind = "nginx"
            [metrics]
            prometheus_url = "http://prom:SECRETTOKEN5@127.0.0.1:{port}/prom"
            [services.web]
            image = "127.0.0.1:5000/demo"
            hosts = ["web-1"]
            load_balancer = "edge"
            listen = "127.0.0.1:8080"
            preview_listen = "127.0.0.1:8081"
            base_port = 18080
            webhooks = ["http://user:SECRETTOKEN1@127.0.0.1:{port}/hooks/SECRETTOKEN2?token=SECRETTOKEN3"]
            slack_webhooks = ["http://127.0.0.1:{port}/services/T000/B000/SECRETTOKEN4"]
            """
        )
    )
    return path


def _invoke(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), Output("--json" in argv, out, err))
    return code, out.getvalue(), err.getvalue()


async def _fail_a_notification(config_path: Path) -> tuple[Path, list[str]]:
    config = load_config(config_path)
    store = open_store(config.state_path)
    shown: list[str] = []
    op = OpContext(
        config,
        store,
        Clock(),
        "tester",
        Fleet(config),
        [lambda event, message, fields: shown.append(f"{event} {message} {fields}")],
        notify_timeout_s=2.0,
    )
    deployment_id = store.start_deployment(
        "web", "production", "blue-green", "deploy", None, None, "tester", Clock().now()
    )
    try:
        await op.notify("web", "deploy_failed", "web failed", deployment_id=deployment_id)
        kinds = [e.kind for e in store.events(deployment_id)]
    finally:
        store.close()
    assert kinds.count("notification_failed") == 2  # the test really exercised the failure
    return config.state_path, shown


def test_a_failing_webhook_leaves_no_token_in_the_state_db_stdout_or_stderr(config_path, capfd):
    # Sync on purpose: the CLI below runs its own event loop, as it does for a user.
    state_path, shown = asyncio.run(_fail_a_notification(config_path))
    outputs = [
        *_invoke("--config", str(config_path), "--json", "config", "check")[1:],
        *_invoke("--config", str(config_path), "config", "check")[1:],
        *_invoke("--config", str(config_path), "--json", "history", "--events")[1:],
        *_invoke("--config", str(config_path), "history", "--events")[1:],
    ]
    captured = capfd.readouterr()
    raw = b"".join(
        p.read_bytes() for p in state_path.parent.iterdir() if p.name.startswith("state.db")
    )
    text = "\n".join([*outputs, *shown, captured.out, captured.err])
    assert "notification_failed" in text and "127.0.0.1" in text
    leaks = [t for t in TOKENS if t.encode() in raw or t in text]
    assert leaks == []
