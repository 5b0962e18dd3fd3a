"""Two operators on two machines (two processes, two HOMEs, no --state) sharing
one PostgreSQL store: one lock for both, one history, and a takeover after a
crash. Real hosts, registry, nginx and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from console.core.store import open_shared_store

pytestmark = pytest.mark.rig


def operator_env(stack, home: Path, operator: str, url: str) -> dict[str, str]:
    home.mkdir(exist_ok=True)
    env = {**stack.cli_env(), "HOME": str(home), "SHIPDECK_OPERATOR": operator}
    env.pop("XDG_STATE_HOME", None)
    env["SHIPDECK_STATE_URL"] = url
    return env


def shipdeck(env: dict[str, str], *argv: str, timeout_s: float = 180):
    return subprocess.run(
        [sys.executable, "-m", "console", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def test_two_operators_share_one_lock_one_history_and_take_over_after_a_crash(
    stack, empty_database, tmp_path
):
    alice = operator_env(stack, tmp_path / "alice", "alice", empty_database)
    bob = operator_env(stack, tmp_path / "bob", "bob", empty_database)
    first = shipdeck(alice, "deploy", "web", "v1", "--yes", "--json")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr

    store = open_shared_store(empty_database)
    running = subprocess.Popen(
        [sys.executable, "-m", "console", "deploy", "web", "v2", "--yes", "--json"],
        env=alice,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while (lock := store.lock("web")) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock is not None and lock.holder == "alice"

        refused = shipdeck(bob, "deploy", "web", "v3", "--yes")
        assert refused.returncode == 3 and "locked by alice" in refused.stderr
    finally:
        os.kill(running.pid, signal.SIGKILL)
        running.wait()

    time.sleep(2.5)  # alice's 2 s lease lapses: her process is dead
    back = shipdeck(bob, "rollback", "web", "--yes", "--json")
    assert back.returncode == 0, back.stdout[-2000:] + back.stderr
    assert store.lock("web") is None and store.in_progress("web", "production") == []

    seen_by_alice = shipdeck(alice, "history", "web", "--json")
    seen_by_bob = shipdeck(bob, "history", "web", "--json")
    assert seen_by_alice.returncode == seen_by_bob.returncode == 0
    history = json.loads(seen_by_alice.stdout)
    assert history == json.loads(seen_by_bob.stdout)
    assert json.dumps(history).count('"alice"') >= 2 and '"bob"' in json.dumps(history)
    store.close()
