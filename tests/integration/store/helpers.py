"""Helpers of the store tests: open a store by location, run Python or shipdeck
in another process (a second machine, as far as the store can tell)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from console.core.store import StateStore, open_shared_store, open_store

ROOT = Path(__file__).resolve().parents[3]


def open_at(location: str) -> StateStore:
    """An SQLite path or a PostgreSQL URL, opened."""
    return open_shared_store(location) if "://" in location else open_store(location)


def python(code: str) -> subprocess.Popen[str]:
    """``python -c code`` in the background, from the repository root."""
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def shipdeck(
    *argv: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``shipdeck *argv`` in ``cwd`` (also its HOME), with only ``env`` naming a store
    or a password: nothing inherited from the developer's shell."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPDECK_", "PG", "XDG_"))}
    return subprocess.run(
        [sys.executable, "-m", "console", *argv],
        cwd=cwd,
        env={
            **base,
            "PYTHONPATH": str(ROOT),
            "HOME": str(cwd),
            "SHIPDECK_OPERATOR": "tester",
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
