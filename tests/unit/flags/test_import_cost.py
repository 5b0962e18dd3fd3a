"""Applications import the evaluation library without paying for the console."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("textual", "rich", "docker", "asyncssh", "openfeature", "filelock", "tomli_w", "pathspec")


def loaded_after(statement: str) -> list[str]:
    code = f"import sys\n{statement}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [name for name in result.stdout.strip().split(",") if name]


def test_importing_flag_file_loads_no_console_dependencies():
    assert loaded_after("from console.flags import FlagFile") == []


def test_evaluating_a_flag_loads_no_console_dependencies(tmp_path):
    path = tmp_path / "flags.toml"
    path.write_text(
        '[flags.f]\nowner = "t"\ntype = "release"\ncreated = 2026-01-01\n'
        "production_enabled = true\nproduction_percent = 50\n"
    )
    statement = (
        "from console.flags import FlagFile\n"
        f"flags = FlagFile({str(path)!r}, 'production')\n"
        "assert flags.last_error is None, flags.last_error\n"
        "flags.enabled('f', user_id='u1'); flags.evaluate('f', {'user_id': 'u1'})\n"
        "flags.explain('f', user_id='u1'); flags.close()"
    )
    assert loaded_after(statement) == []


def test_the_writer_side_loads_lazily_on_first_use():
    assert loaded_after("import console.flags as f; f.FlagStore") == ["filelock", "tomli_w"]
