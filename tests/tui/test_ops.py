"""``CoreOps``: the console's actions are the core's calls, audited like the CLI's."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from console.core.clock import Clock
from console.core.config import load_config
from console.core.store import open_store
from console.flags import FlagStore
from console.tui.ops import (
    CoreOps,
    deploy_command,
    flag_percent_command,
    rollback_command,
)
from tests.tui.test_data import CONFIG, FLAGS

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


@pytest.fixture
def ops(tmp_path: Path) -> CoreOps:
    (tmp_path / "shipdeck.toml").write_text(CONFIG)
    (tmp_path / "flags.toml").write_text(FLAGS)
    config = load_config(tmp_path / "shipdeck.toml")
    store = open_store(config.state_path)
    return CoreOps(
        config,
        store,
        Clock(frozen_at=NOW),
        "me@console",
        config_path=config.path,
        state_path=config.state_path,
    )


def test_lock_is_taken_and_audited(ops):
    result = ops.lock("web", "incident INC-1")
    assert result.ok
    assert ops.store.lock("web").holder == "me@console"
    assert ops.store.audit_entries()[0].action == "lock"


def test_lock_needs_a_reason(ops):
    assert not ops.lock("web", "  ").ok


def test_unlocking_another_holders_lock_needs_force_and_is_audited(ops):
    ops.store.try_lock("web", "bob@cli", "deploy", 30, NOW)
    refused = ops.unlock("web", force=False)
    assert not refused.ok and "bob@cli" in refused.message
    assert ops.unlock("web", force=True).ok
    assert ops.store.lock("web") is None
    assert ops.store.audit_entries()[0].action == "force-unlock"


def test_flag_toggle_writes_the_file_and_the_audit(ops):
    assert ops.set_flag_enabled("new-checkout", "production", False).ok
    flag = FlagStore(ops.config.flags_path).load().require("new-checkout")
    assert not flag.env("production").enabled and flag.last_changed_by == "me@console"
    assert ops.store.flag_changes("new-checkout")[0].operator == "me@console"


def test_turning_a_killed_flag_on_rearms_its_global_switch(ops):
    ops.kill_flag("new-checkout")
    assert ops.set_flag_enabled("new-checkout", "production", True).ok
    flag = FlagStore(ops.config.flags_path).load().require("new-checkout")
    assert flag.enabled and flag.env("production").enabled


def test_flag_percentage_and_kill(ops):
    assert ops.set_flag_percent("new-checkout", "production", 25).ok
    assert ops.kill_flag("new-checkout").ok
    flag = FlagStore(ops.config.flags_path).load().require("new-checkout")
    assert flag.env("production").percent == 25 and not flag.enabled


def test_unknown_flag_is_an_error_not_a_crash(ops):
    result = ops.set_flag_percent("nope", "production", 5)
    assert not result.ok and "unknown flag" in result.message


def running_canary(ops: CoreOps, heartbeat: datetime) -> int:
    deployment_id = ops.store.start_deployment(
        "web", "production", "canary", "deploy", None, None, "ann", heartbeat
    )
    return deployment_id


def test_promote_records_a_request_the_rollout_process_reads(ops):
    deployment_id = running_canary(ops, NOW)
    assert ops.promote("web", "production").ok
    kinds = [e.kind for e in ops.store.events(deployment_id)]
    assert kinds == ["promote_requested"]


def test_abort_is_the_clis_abort_a_rollback_to_the_baseline(ops, monkeypatch):
    from console.core.ops import rollback as rollback_module
    from console.core.ops.rollback import RollbackResult

    calls = []

    async def fake_rollback(
        op, service, environment, to="last-good", *, dry_run=False, kind="rollback"
    ):
        calls.append((op.operator, service, environment, to, kind))
        return RollbackResult(7, "succeeded", None, "v43", "v42", "canary-abort", 1.0)

    monkeypatch.setattr(rollback_module, "rollback", fake_rollback)
    result = ops.abort("web", "production")
    assert result.ok and result.message == "web/production: abort succeeded: traffic on v42"
    assert calls == [("me@console", "web", "production", "last-good", "abort")]


def test_abort_without_a_rollout_is_refused_not_a_crash(ops):
    result = ops.abort("web", "production")
    assert not result.ok and "no rollout in progress" in result.message


def test_deploy_runs_the_headless_command_in_its_own_process(ops, tmp_path):
    script = tmp_path / "fake-python"
    script.write_text('#!/bin/sh\necho "$@"\n')
    script.chmod(0o755)
    ops.python = str(script)
    rollout = ops.start_deploy("web", "production", "v9", "canary")
    deadline = time.monotonic() + 5
    while rollout.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert rollout.poll() == 0
    logged = rollout.log_path.read_text()
    assert "-m console --config" in logged
    assert "deploy web v9 --env production --strategy canary --yes --json" in logged
    assert rollout.command == deploy_command("web", "production", "v9", "canary")


def test_headless_commands_quote_what_they_must():
    assert (
        rollback_command("web", "production", "v41")
        == "shipdeck rollback web --env production --to v41"
    )
    assert (
        flag_percent_command("a-b", "staging", 5)
        == "shipdeck flags set a-b --percent 5 --env staging"
    )


def test_python_default_is_this_interpreter(ops):
    assert ops.python == sys.executable
