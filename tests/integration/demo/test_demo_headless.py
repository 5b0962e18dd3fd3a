"""`shipdeck demo --headless --scenario bad`: the judge catches v3; `--down` leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.require import missing, need_binary

pytestmark = pytest.mark.rig


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return (
        Path(f"/proc/{pid}").exists()
        and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
    )


def test_bad_scenario_is_rolled_back_on_the_error_rate_and_down_leaves_nothing(tmp_path):
    for binary in ("dockerd", "sshd", "docker-registry", "nginx"):
        need_binary(binary)
    directory = tmp_path / "demo"
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "console",
                "demo",
                "--headless",
                "--scenario",
                "bad",
                "--keep",
                "--dir",
                str(directory),
            ],
            capture_output=True,
            text=True,
            timeout=420,
        )
        lines = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
        if not lines:
            missing("demo", f"no output: {run.stderr[-500:]}")
        summary = lines[-1]
        assert summary["event"] == "summary", summary
        assert summary["scenario"] == "bad" and summary["outcome"] == "rolled_back", summary
        assert "errors" in summary["reason"], summary
        assert summary["live_release"] == "v1" and summary["requests"] > 1000
        assert run.returncode == 0, run.stderr[-800:]
        record = json.loads((directory / "environment.json").read_text())
        pids = [entry["pid"] for entry in record["pids"]]
        assert all(_alive(pid) for pid in pids)
    except BaseException:
        # a failed run must not leave the demo (fixed ports) up for the next test
        subprocess.run(
            [sys.executable, "-m", "console", "demo", "--down", "--dir", str(directory)],
            capture_output=True,
            timeout=120,
        )
        raise

    down = subprocess.run(
        [sys.executable, "-m", "console", "demo", "--down", "--dir", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert down.returncode == 0, down.stderr
    assert not any(_alive(pid) for pid in pids)
    assert not directory.exists()
    import docker

    socket = record["docker_socket"]
    if os.path.exists(socket):
        client = docker.DockerClient(base_url=f"unix://{socket}")
        leftovers = [
            c.name
            for c in client.containers.list(all=True)
            if c.name.startswith(("shipdeck-demo-1", "shipdeck-demo-2"))
        ]
        client.close()
        assert leftovers == []
