"""``shipdeck flags …``: exit codes, JSON, the file left unchanged on bad input, the audit."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from console.cli import run
from console.cli_commands.output import Output
from console.core.store import open_store
from console.flags import FlagStore, bucket

ROOT = Path(__file__).resolve().parents[3]

OLD_FLAG = """\
version = 1

[flags.old-banner]
created = 2020-01-01
owner = "web"
type = "release"
cleanup_by = 2020-02-01
production_enabled = true
production_percent = 100
production_changed_at = 2020-01-02 00:00:00+00:00
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("SHIPDECK_OPERATOR", "oncall@test")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a terminal
    for name in [n for n in os.environ if n.startswith("SHIPDECK_FLAG_")]:
        monkeypatch.delenv(name)
    return tmp_path


def shipdeck(tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    full = [
        "--state",
        str(tmp_path / "state.db"),
        "flags",
        *argv,
        "--flags",
        str(tmp_path / "flags.toml"),
    ]
    code = run(full, Output("--json" in argv, out, err))
    return code, out.getvalue(), err.getvalue()


def create(tmp_path: Path, key: str = "new-checkout", *extra: str) -> None:
    code, _, err = shipdeck(
        tmp_path, "create", key, "--owner", "payments", "--type", "release", *extra
    )
    assert code == 0, err


def audit(tmp_path: Path, key: str):
    store = open_store(tmp_path / "state.db")
    try:
        return list(reversed(store.flag_changes(key)))
    finally:
        store.close()


def test_create_starts_off_everywhere_and_prints_the_cleanup_ticket(env):
    code, out, _ = shipdeck(
        env, "create", "new-checkout", "--owner", "payments", "--type", "release"
    )
    assert code == 0 and "Remove feature flag new-checkout" in out and "Clean up by:" in out
    code, out, _ = shipdeck(env, "show", "new-checkout", "--json")
    doc = json.loads(out)
    assert (doc["staging_enabled"], doc["production_enabled"], doc["owner"]) == (
        False,
        False,
        "payments",
    )


def test_create_without_an_owner_exits_2(env):
    code, _, err = shipdeck(env, "create", "x", "--type", "release")
    assert code == 2 and "--owner" in err and not (env / "flags.toml").exists()


def test_creating_an_existing_flag_exits_2(env):
    create(env)
    code, _, err = shipdeck(env, "create", "new-checkout", "--owner", "o", "--type", "release")
    assert code == 2 and "already exists" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["set", "new-checkout", "--percent", "101"], "must be an integer 0–100"),
        (["set", "new-checkout", "--percent", "-1"], "must be an integer 0–100"),
        (["set", "new-checkout", "--percent", "ten"], "must be an integer 0–100"),
        (["set", "Bad_Key", "--percent", "10"], "invalid flag key 'Bad_Key'"),
        (["on", "nope"], "unknown flag 'nope'"),
        (["off", "nope", "--env", "staging"], "unknown flag 'nope'"),
        (["kill", "nope", "--yes"], "unknown flag 'nope'"),
        (["delete", "nope", "--yes"], "unknown flag 'nope'"),
        (["stage", "new-checkout", "shipped"], "invalid stage 'shipped'"),
        (["explain", "nope", "--user", "u1"], "unknown flag 'nope'"),
        (["on", "new-checkout", "--env", "prod"], "invalid choice"),
    ],
)
def test_invalid_input_exits_2_and_leaves_the_file_unchanged(env, argv, message):
    create(env)
    before = (env / "flags.toml").read_bytes()
    code, out, err = shipdeck(env, *argv, "--json")
    assert code == 2 and message in err
    assert json.loads(out)["error"]["exit_code"] == 2
    assert (env / "flags.toml").read_bytes() == before


def test_set_changes_one_environment_and_is_audited_there(env):
    create(env)
    code, out, _ = shipdeck(env, "set", "new-checkout", "--percent", "25", "--env", "production")
    assert code == 0 and "production 0% → 25%" in out
    flag = FlagStore(env / "flags.toml").load().require("new-checkout")
    assert (flag.env("production").percent, flag.env("staging").percent) == (25, 0)
    change = audit(env, "new-checkout")[-1]
    assert (change.environment, change.operator) == ("production", "oncall@test")
    assert (change.old["production_percent"], change.new["production_percent"]) == (0, 25)


def test_on_without_env_turns_every_environment_on(env):
    create(env)
    assert shipdeck(env, "on", "new-checkout")[0] == 0
    flag = FlagStore(env / "flags.toml").load().require("new-checkout")
    assert flag.env("staging").enabled and flag.env("production").enabled


def test_kill_needs_yes_when_stdin_is_not_a_terminal(env):
    create(env)
    shipdeck(env, "on", "new-checkout")
    before = (env / "flags.toml").read_bytes()
    code, _, err = shipdeck(env, "kill", "new-checkout")
    assert code == 3 and "flags kill: confirmation required: pass --yes" in err
    assert (env / "flags.toml").read_bytes() == before


def test_kill_turns_the_flag_off_everywhere_and_on_re_arms_one_environment(env):
    create(env)
    shipdeck(env, "set", "new-checkout", "--percent", "100")
    shipdeck(env, "on", "new-checkout")
    assert shipdeck(env, "kill", "new-checkout", "--yes")[0] == 0
    flag = FlagStore(env / "flags.toml").load().require("new-checkout")
    assert not flag.enabled and not flag.env("staging").enabled
    assert not flag.env("production").enabled
    shipdeck(env, "on", "new-checkout", "--env", "staging")
    flag = FlagStore(env / "flags.toml").load().require("new-checkout")
    assert flag.enabled and flag.env("staging").enabled and not flag.env("production").enabled


def test_delete_needs_yes_and_then_removes_the_flag(env):
    create(env)
    assert shipdeck(env, "delete", "new-checkout")[0] == 3
    assert shipdeck(env, "delete", "new-checkout", "--yes")[0] == 0
    assert "new-checkout" not in FlagStore(env / "flags.toml").load()
    assert audit(env, "new-checkout")[-1].new is None


def test_target_adds_users_and_rules(env):
    create(env)
    code, _, _ = shipdeck(
        env, "target", "new-checkout", "--allow", "alice", "bob", "--rule", "country in DE,NL"
    )
    flag = FlagStore(env / "flags.toml").load().require("new-checkout")
    assert code == 0 and flag.allow == ("alice", "bob")
    assert flag.rules[0].describe() == "country in [DE, NL]"


def test_explain_prints_the_trace_with_the_bucket(env):
    create(env)
    shipdeck(env, "set", "new-checkout", "--percent", "50", "--env", "production")
    shipdeck(env, "on", "new-checkout", "--env", "production")
    code, out, _ = shipdeck(env, "explain", "new-checkout", "--user", "u7", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["bucket"] == bucket("new-checkout", "u7") and doc["reason"] == "SPLIT"
    assert any("murmur3" in step for step in doc["trace"])


def test_stale_lists_each_reason(env):
    (env / "flags.toml").write_text(OLD_FLAG)
    code, out, _ = shipdeck(env, "stale", "--json")
    codes = [finding["code"] for finding in json.loads(out)["stale"]]
    assert code == 0 and codes == ["FULLY_ON", "PAST_CLEANUP_BY", "PAST_EXPECTED_LIFETIME"]


def test_refs_marks_unreferenced_flags_safe_to_delete(env):
    create(env, "used-flag")
    create(env, "dead-flag")
    source = env / "src"
    source.mkdir()
    (source / "app.py").write_text('if flags.enabled("used-flag"):\n    pass\n')
    code, out, _ = shipdeck(env, "refs", str(source), "--json")
    flags = json.loads(out)["flags"]
    assert code == 0 and flags["dead-flag"]["safe_to_delete"] is True
    assert flags["used-flag"]["references"][0]["path"] == "app.py"


def test_list_shows_environment_overrides(env, monkeypatch):
    create(env)
    monkeypatch.setenv("SHIPDECK_FLAG_NEW_CHECKOUT", "on")
    code, out, _ = shipdeck(env, "list")
    assert code == 0 and "override: new-checkout: SHIPDECK_FLAG_NEW_CHECKOUT=on (100%)" in out
    code, out, _ = shipdeck(env, "list", "--json")
    assert json.loads(out)["flags"][0]["override"]["value"] == "on"


def test_flags_path_comes_from_the_config_when_not_given(env):
    (env / "shipdeck.toml").write_text('flags_path = "team-flags.toml"\n')
    (env / "team-flags.toml").write_text(OLD_FLAG)
    out = io.StringIO()
    argv = ["--config", str(env / "shipdeck.toml"), "--json", "flags", "list"]
    assert run(argv, Output(True, out, io.StringIO())) == 0
    assert json.loads(out.getvalue())["flags"][0]["key"] == "old-banner"


def test_shipdeck_flags_runs_as_a_real_command():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "console",
            "flags",
            "list",
            "--flags",
            "config/flags.demo.toml",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    keys = [flag["key"] for flag in json.loads(result.stdout)["flags"]]
    assert {"new-checkout-flow", "dark-mode", "search-v2"} <= set(keys)
