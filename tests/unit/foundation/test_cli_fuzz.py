"""Fuzzing the CLI's arguments: any argv ends in a documented exit code, never a traceback.

Real command names and flags mixed with arbitrary text (control characters,
huge numbers, ``--json`` anywhere) are run in-process against a temp config and
state store. Only commands that reach neither the network nor a real host are
drawn (``config check``, ``history``, ``status --no-hosts``, ``lock``/``unlock``,
``releases --no-hosts``, ``flags list``); ``deploy``, ``hosts`` and ``analyze``
would talk to hosts or wait for samples, so a fuzzer could hang on them.
Exit 1 ("the operation failed") is not allowed: none of these operates.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import console.cli as cli
from tests.unit.foundation.test_cli_contract import CONFIG

COMMANDS = [
    ["config", "check"],
    ["history"],
    ["status", "--no-hosts"],
    ["lock", "web"],
    ["unlock", "web"],
    ["releases", "web", "--no-hosts"],
    ["flags", "list"],
    [],
]
WORDS = [
    "--json",
    "--yes",
    "--reason",
    "--force",
    "--limit",
    "--before",
    "--since",
    "--events",
    "--env",
    "--config",
    "--state",
    "--help",
    "--",
    "web",
    "api",
    "production",
    "staging",
    "-1",
    "0",
    "9" * 400,
    str(2**63),
    "-" + "9" * 30,
    "--limit=" + "9" * 30,
    "--before=" + "9" * 30,
    "--before=-" + "9" * 30,
    "2026-11-30T10:00:00Z",
    "nan",
    "\x1b[2J",
    "\r\n",
    "\u202e",
]
arguments = st.one_of(
    st.sampled_from(WORDS),
    st.text(max_size=12),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
argvs = st.tuples(
    st.lists(arguments, max_size=3), st.sampled_from(COMMANDS), st.lists(arguments, max_size=5)
)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fuzzed commands' working directory: a fuzzed ``--state J`` writes here,
    never into the checkout."""
    return tmp_path_factory.mktemp("cli-fuzz")


@pytest.fixture(scope="module")
def options(root: Path) -> list[str]:
    config = root / "shipdeck.toml"
    config.write_text(f'flags_path = "{root / "flags.toml"}"\n' + CONFIG)
    return ["--config", str(config), "--state", str(root / "state.db")]


@pytest.mark.timeout(300)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(argv=argvs)
def test_any_arguments_exit_0_2_3_or_4_without_a_traceback(root, options, monkeypatch, argv):
    before, command, after = argv
    monkeypatch.chdir(root)
    # No command opens the console: not in a test; say so the way a missing build would.
    monkeypatch.setattr(cli, "_open_console", lambda args, out: 2)
    monkeypatch.setenv("SHIPDECK_OPERATOR", "fuzz")
    out, err = io.StringIO(), io.StringIO()
    full = [*options, *before, *command, *after]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.run(full, cli.Output("--json" in full, out, err))
    assert code in (0, 2, 3, 4), (full, code, err.getvalue())
    assert "Traceback" not in err.getvalue(), (full, err.getvalue())
