"""Hostile ``SHIPDECK_FLAG_*`` values and evaluation inputs: ignored once, never raised."""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import mmh3
import pytest

from console.flags import FlagFile, bucket
from console.flags.model import Flag, FlagSet, Rule, parse_override, semver_key
from console.flags.store import render

ROOT = Path(__file__).resolve().parents[3]
HOSTILE_OVERRIDES = ["²", "1" * 5000, "٥٠", "1_0", "𝟓", "-5", "0x10", "50.0", "\x1b[31m", ""]


def flag(key: str = "f", percent: int = 100, **fields) -> Flag:
    base = Flag(key=key, owner="team", type="release", created=date(2026, 1, 1))
    return replace(base, **fields).with_env("production", enabled=True, percent=percent)


def flag_file(tmp_path: Path, *flags: Flag, environ: dict[str, str]) -> FlagFile:
    path = tmp_path / "flags.toml"
    path.write_text(render(FlagSet({f.key: f for f in flags})))
    return FlagFile(path, "production", watch=False, environ=environ)


def flag_warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "console.flags" and r.levelno >= logging.WARNING]


@pytest.mark.parametrize("raw", HOSTILE_OVERRIDES)
def test_a_hostile_override_value_is_ignored_with_an_error(raw):
    override = parse_override("SHIPDECK_FLAG_F", raw)
    assert override.enabled is None and override.error is not None


@pytest.mark.parametrize("raw", ["²", "1" * 5000])
def test_a_hostile_override_leaves_the_files_state_in_force(tmp_path, raw):
    flags = flag_file(tmp_path, flag(percent=100), environ={"SHIPDECK_FLAG_F": raw})
    assert flags.enabled("f", user_id="u1") is True
    assert flags.overrides["f"].error is not None


def test_a_bad_override_is_warned_about_exactly_once(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="console.flags")
    flags = flag_file(tmp_path, flag(), environ={"SHIPDECK_FLAG_F": "²"})
    for i in range(100):
        flags.enabled("f", user_id=f"u{i}")
        flags.evaluate("f", {"user_id": f"u{i}"})
    flags.reload()
    warnings = flag_warnings(caplog)
    assert len(warnings) == 1 and "ignoring override SHIPDECK_FLAG_F" in warnings[0].getMessage()


def test_a_bad_override_for_an_unknown_key_is_cached_and_warned_once_without_traceback(
    tmp_path, caplog
):
    caplog.set_level(logging.WARNING, logger="console.flags")
    flags = FlagFile(
        tmp_path / "none.toml", watch=False, environ={"SHIPDECK_FLAG_GHOST": "1" * 5000}
    )
    assert not any(flags.enabled("ghost", user_id=f"u{i}") for i in range(100))
    assert flags.evaluate("ghost").error_code == "FLAG_NOT_FOUND"
    warnings = [r for r in flag_warnings(caplog) if "ghost" in r.getMessage().lower()]
    assert len(warnings) == 1 and warnings[0].exc_info is None


def test_a_failing_evaluation_is_logged_once_per_key(tmp_path, caplog):
    class Hostile:
        def __str__(self) -> str:
            raise RuntimeError("boom")

        __format__ = None  # type: ignore[assignment]

    caplog.set_level(logging.WARNING, logger="console.flags")
    flags = flag_file(tmp_path, flag(percent=50), environ={})
    assert not any(flags.enabled("f", user_id=Hostile()) for _ in range(50))
    assert len(flag_warnings(caplog)) == 1


def test_an_unhashable_key_is_false_and_logged_once(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="console.flags")
    flags = flag_file(tmp_path, flag(), environ={})
    assert not any(flags.enabled(["f"]) for _ in range(20))  # type: ignore[arg-type]
    assert len(flag_warnings(caplog)) == 1


def test_a_user_id_with_a_lone_surrogate_is_bucketed_not_a_crash(tmp_path):
    # mmh3 5.x segfaults hashing a lone surrogate: run it where a crash cannot take pytest down.
    path = tmp_path / "flags.toml"
    path.write_text(render(FlagSet({"f": flag(percent=50)})))
    code = (
        "from console.flags import FlagFile, bucket\n"
        f"flags = FlagFile({str(path)!r}, watch=False, environ={{}})\n"
        "flags.enabled('f', user_id='\\udc80'); flags.evaluate('f', {'user_id': 'x\\udcff'})\n"
        "print(1 <= bucket('f', '\\ud800') <= 100)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout.strip() == "True", result.stderr


def test_non_ascii_user_ids_keep_their_unleash_bucket():
    for user in ("üser", "ユーザー", "😀", "plain"):
        assert bucket("f", user) == mmh3.hash(f"f:{user}", 0, False) % 100 + 1


@pytest.mark.parametrize("version", ["1" * 5000 + ".0.0", "١.٢.٣", "1.2.3-" + "9" * 5000])
def test_a_semver_rule_does_not_match_a_hostile_context_version(tmp_path, version):
    rule = Rule("app_version", "semver_gte", ("1.0.0",))
    flags = flag_file(tmp_path, flag(rules=(rule,)), environ={})
    assert semver_key(version) is None
    result = flags.evaluate("f", {"user_id": "u1", "app_version": version})
    assert result.value is False and result.error_code is None
