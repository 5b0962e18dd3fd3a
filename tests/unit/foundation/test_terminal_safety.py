"""Operator-supplied text reaches a terminal on one line, with nothing the terminal obeys.

A lock reason or operator name holding ``\\x1b[2J``, ``\\r``, ``\\n``, ``\\x07`` or
U+202E is shown escaped by ``status``, ``history``, ``lock`` and the console;
JSON output keeps the string as it was.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.text import Text

from console.cli import run
from console.cli_commands.output import Output
from console.core.text import printable
from console.tui.screens.styles import styled
from tests.unit.foundation.test_cli_contract import CONFIG

HOSTILE = "freeze\x1b[2J\r\nroot\x07\u202e[red]x[/red]"


def _is_terminal_safe(text: str) -> bool:
    return all(c.isprintable() or c == "\n" for c in text) and "\x1b" not in text


def _invoke(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), Output("--json" in argv, out, err))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Global options for a config whose service ``web`` is locked with a hostile reason."""
    config = tmp_path / "shipdeck.toml"
    config.write_text(CONFIG)
    options = ["--config", str(config), "--state", str(tmp_path / "state.db")]
    monkeypatch.setenv("SHIPDECK_OPERATOR", "mallory\x1b]0;pwned\x07\nop")
    assert _invoke(*options, "lock", "web", "--reason", HOSTILE)[0] == 0
    return options


def test_printable_escapes_every_control_and_bidi_character_on_one_line():
    assert printable("a\x1b[2J\r\n\x07\u202eb") == "a\\x1b[2J\\r\\n\\x07\\u202eb"


def test_printable_leaves_ordinary_unicode_text_unchanged():
    assert printable("v42 → v43 · ünïcode ✓ [red]") == "v42 → v43 · ünïcode ✓ [red]"


def test_status_text_shows_a_hostile_lock_reason_escaped_on_its_own_line(locked):
    code, out, _ = _invoke(*locked, "status", "--no-hosts")
    lock_lines = [line for line in out.splitlines() if "locked by" in line]
    assert code == 0 and _is_terminal_safe(out) and len(lock_lines) == 1
    assert "\\x1b[2J\\r\\nroot" in lock_lines[0]


def test_status_json_keeps_the_lock_reason_as_typed(locked):
    code, out, _ = _invoke(*locked, "--json", "status", "--no-hosts")
    assert code == 0 and HOSTILE in json.loads(out)["services"][0]["lock"]["text"]


def test_a_second_lock_reports_the_hostile_holder_escaped_on_stderr(locked):
    code, _, err = _invoke(*locked, "lock", "web", "--reason", "again")
    assert code == 3 and _is_terminal_safe(err) and err.count("\n") == 1


def test_history_text_shows_hostile_operator_and_events_escaped(locked, tmp_path):
    from console.core.clock import Clock
    from console.core.store import open_store

    store = open_store(tmp_path / "state.db")
    now = Clock().now()
    deployment = store.start_deployment(
        "web", "production", "blue-green", "deploy", None, None, "eve\r\x1b[31m", now
    )
    store.add_event(deployment, "step", HOSTILE, now, {})
    store.close()
    code, out, _ = _invoke(*locked, "history", "--events")
    assert code == 0 and _is_terminal_safe(out) and len(out.splitlines()) == 2


def test_a_table_cell_shows_markup_and_escapes_literally():
    cell = styled(HOSTILE)
    assert isinstance(cell, Text) and cell.plain == printable(HOSTILE) and not cell.spans


async def test_console_toasts_are_plain_one_line_text():
    from console.tui.app import ShipdeckApp
    from tests.tui.fakes import FakeConsoleData, FakeOps

    app = ShipdeckApp(FakeConsoleData(), FakeOps())
    async with app.run_test() as pilot:
        app.notify(HOSTILE, title="t\x1b")
        await pilot.pause()
        [toast] = list(app._notifications)
    assert not toast.markup and toast.message == printable(HOSTILE) and toast.title == "t\\x1b"
