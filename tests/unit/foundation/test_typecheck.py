"""mypy passes on the core and the engines, strict as pyproject.toml configures it.

Run as a subprocess (like ``make lint``) so the test sees exactly what a
developer sees; the cache goes to a temp dir so a fresh CI checkout works and
parallel runs never share a half-written cache.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.timeout(900)
def test_mypy_is_clean_on_core_and_engines(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "console/core",
            "engines",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=880,
    )
    assert result.returncode == 0, result.stdout + result.stderr
