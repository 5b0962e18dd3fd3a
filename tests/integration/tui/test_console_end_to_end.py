"""The real console in tmux against the real demo environment: watch a live canary, press R,
confirm, and see traffic return to the previous release through the LB."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from console.core.store import open_store
from engines.http import http_get
from tests.require import need_binary

pytestmark = pytest.mark.rig
ROOT = Path(__file__).resolve().parents[3]


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def screen(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session)


def wait_until(condition, timeout_s: float, what: str, session: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; screen:\n{screen(session)}")


def test_pressing_R_during_a_canary_returns_traffic_to_the_baseline(tmp_path):
    for binary in ("tmux", "dockerd", "sshd", "nginx"):
        need_binary(binary)
    directory = tmp_path / "demo"
    session = f"shipdeck-e2e-{int(time.time())}"
    command = (
        f"cd {ROOT} && {sys.executable} -m console demo --scenario good --dir {directory}; sleep 30"
    )
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", command)
    try:
        state = directory / "state.db"
        wait_until(state.exists, 240, "the demo's state store", session)
        store = open_store(state)

        def canary_in_analysis() -> bool:
            running = store.in_progress("web", "production")
            return (
                bool(running)
                and running[-1].strategy == "canary"
                and str(running[-1].step or "").startswith("analysis")
            )

        wait_until(canary_in_analysis, 240, "the canary's analysis", session)
        time.sleep(4)
        tmux("send-keys", "-t", session, "2")
        shown = wait_until(
            lambda: (s := screen(session)) and "baseline" in s.lower() and "%" in s and s,
            30,
            "the Canary screen",
            session,
        )
        assert "canary" in shown.lower()
        tmux("send-keys", "-t", session, "R")
        # Wait for each dialog by text only it shows: "v1" is on the Canary screen
        # already, and the picker's title says "Roll back" too.
        wait_until(lambda: "Enter picks" in screen(session), 20, "the release picker", session)
        tmux("send-keys", "-t", session, "Enter")
        wait_until(
            lambda: "type web to confirm" in screen(session), 20, "the confirmation", session
        )
        tmux("send-keys", "-t", session, "web", "Enter")

        def back_on_baseline() -> bool:
            traffic = store.traffic("web", "production")
            return (
                traffic is not None
                and traffic.canary_release is None
                and not store.in_progress("web", "production")
            )

        wait_until(back_on_baseline, 90, "traffic back on the baseline", session)
        answers = {
            asyncio.run(http_get("127.0.0.1", 18080, "/", timeout_s=5)).headers.get(
                "x-shipdeck-release"
            )
            for _ in range(20)
        }
        assert answers == {"v1"}
    finally:
        tmux("send-keys", "-t", session, "q")
        time.sleep(1)
        tmux("send-keys", "-t", session, "y")
        time.sleep(3)
        tmux("kill-session", "-t", session)
        subprocess.run(
            [sys.executable, "-m", "console", "demo", "--down", "--dir", str(directory)],
            cwd=ROOT,
            timeout=120,
            check=False,
        )
