"""Property tests: any flags file, any override value — a documented exit code or an
ignored value, never a traceback, never a change on disk when a command is refused."""

from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.cli import run
from console.cli_commands.output import Output
from console.flags import FlagFile
from console.flags.model import FlagSet, parse_override

DOCUMENTED_EXIT_CODES = {0, 1, 2, 3, 4}
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

BASE = """\
version = 1

[flags.f]
created = 2026-01-01
owner = "team"
type = "release"
production_enabled = true
production_percent = 50
"""

_VALUES = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e999", "1" * 5000, "true", "1979-05-27"]),
    st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=1, max_value=3000).map(lambda n: "{a=" * n + "1" + "}" * n),
    st.text(max_size=40).map(lambda t: '"' + t.encode("unicode_escape").decode() + '"'),
)
_FIELDS = st.sampled_from(
    ["production_percent", "owner", "description", "notes", "allow", "rules", "stage", "x"]
)
_TOML = st.builds(lambda field, value: BASE + f"{field} = {value}\n", _FIELDS, _VALUES)
_BYTES = st.one_of(
    _TOML.map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=300),
    st.tuples(_TOML, st.binary(min_size=1, max_size=8), st.integers(0, 200)).map(
        lambda t: t[0].encode()[: t[2]] + t[1] + t[0].encode()[t[2] :]
    ),
)


@pytest.fixture
def operator(monkeypatch):
    monkeypatch.setenv("SHIPDECK_OPERATOR", "prop@test")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    for name in [n for n in os.environ if n.startswith("SHIPDECK_FLAG_")]:
        monkeypatch.delenv(name)


def shipdeck(directory: Path, *argv: str) -> tuple[int, str]:
    err = io.StringIO()
    full = ["--state", str(directory / "state.db"), "flags", *argv]
    code = run([*full, "--flags", str(directory / "flags.toml")], Output(False, io.StringIO(), err))
    return code, err.getvalue()


@SETTINGS
@given(content=_BYTES, percent=st.sampled_from(["0", "10", "100", "101", "-1", "²", "x"]))
def test_any_flags_file_gives_a_documented_exit_code_and_is_unchanged_when_refused(
    operator, content, percent
):
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        path = directory / "flags.toml"
        path.write_bytes(content)
        code, err = shipdeck(directory, "list")
        assert code in DOCUMENTED_EXIT_CODES and "Traceback" not in err
        assert path.read_bytes() == content
        code, err = shipdeck(directory, "set", "f", "--percent", percent)
        assert code in DOCUMENTED_EXIT_CODES and "Traceback" not in err
        if code != 0:
            assert path.read_bytes() == content


@SETTINGS
@given(raw=st.text(max_size=60) | st.sampled_from(["²", "1" * 5000, "٥", "50%", "on", "OFF"]))
def test_any_override_value_is_applied_or_ignored_and_never_raises(raw):
    environ = {"SHIPDECK_FLAG_F": raw, "SHIPDECK_FLAG_GHOST": raw}
    with tempfile.TemporaryDirectory() as name:
        path = Path(name) / "flags.toml"
        path.write_text(BASE)
        flags = FlagFile(path, watch=False, environ=environ)
        override = parse_override("SHIPDECK_FLAG_F", raw)
        assert (override.error is None) == (override.enabled is not None)
        assert flags.overrides["f"] == override
        for key in ("f", "ghost"):
            value = flags.enabled(key, user_id="u1")
            evaluation = flags.evaluate(key, {"user_id": "u1"})
            assert value == evaluation.value and evaluation.error_code in (None, "FLAG_NOT_FOUND")
        if override.error is None and override.percent in (0, 100):
            expected = bool(override.enabled) and override.percent == 100
            assert flags.enabled("f", user_id="u1") is expected
        assert isinstance(flags.flags, FlagSet)
