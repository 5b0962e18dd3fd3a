"""``shipdeck flags`` on hostile files and file systems: one line, a documented exit code,
the file unchanged; files created 0600; text output never carries control characters."""

from __future__ import annotations

import errno
import io
import json
import os
import stat
import sys
import threading
from pathlib import Path

import filelock
import pytest

from console.cli import run
from console.cli_commands.output import Output
from console.flags import store as store_module

FLAG = """\
version = 1

[flags.f]
created = 2026-01-01
owner = "team"
type = "release"
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("SHIPDECK_OPERATOR", "oncall@test")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    for name in [n for n in os.environ if n.startswith("SHIPDECK_FLAG_")]:
        monkeypatch.delenv(name)
    return tmp_path


def shipdeck(tmp_path: Path, *argv: str, flags: Path | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    path = flags or tmp_path / "flags.toml"
    full = ["--state", str(tmp_path / "state.db"), "flags", *argv, "--flags", str(path)]
    code = run(full, Output("--json" in argv, out, err))
    return code, out.getvalue(), err.getvalue()


def one_line_error(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- hostile flags files ----------------------------------------------------------------------


def test_a_deeply_nested_flags_file_is_one_line_and_exit_2(env):
    path = env / "flags.toml"
    path.write_text("x = " + "[" * 3000 + "]" * 3000 + "\n")
    code, _, err = shipdeck(env, "list")
    assert code == 2
    assert one_line_error(err) == f"shipdeck: error: {path}:1: invalid TOML: nested too deeply"


def test_set_on_a_deeply_nested_flags_file_exits_2_and_leaves_it_unchanged(env):
    path = env / "flags.toml"
    path.write_text(FLAG + "x = " + "[" * 3000 + "]" * 3000 + "\n")
    before = path.read_bytes()
    code, _, err = shipdeck(env, "set", "f", "--percent", "10")
    assert code == 2 and "nested too deeply" in one_line_error(err)
    assert path.read_bytes() == before


def test_a_flags_file_larger_than_4_mib_is_one_line_and_exit_2(env):
    path = env / "flags.toml"
    path.write_bytes(b"# " + b"x" * (4 * 1024 * 1024) + b"\n")
    code, _, err = shipdeck(env, "list")
    assert code == 2 and "larger than 4 MiB" in one_line_error(err)


def test_dev_zero_as_the_flags_file_is_refused_after_a_bounded_read(env):
    code, _, err = shipdeck(env, "list", flags=Path("/dev/zero"))
    assert code == 2 and "larger than 4 MiB" in one_line_error(err)


def test_a_fifo_nobody_writes_to_does_not_hang_flags_list(env):
    fifo = env / "flags.fifo"
    os.mkfifo(fifo)
    result: list[int] = []
    worker = threading.Thread(
        target=lambda: result.append(shipdeck(env, "list", flags=fifo)[0]), daemon=True
    )
    worker.start()
    worker.join(10)
    assert result and result[0] in (0, 1, 2)


def test_a_flags_file_that_is_not_utf8_names_the_line_and_exits_2(env):
    (env / "flags.toml").write_bytes(FLAG.encode() + b'notes = "\xff"\n')
    code, _, err = shipdeck(env, "list")
    assert code == 2 and "flags.toml:7: not valid UTF-8" in one_line_error(err)


def test_a_5000_digit_number_in_the_flags_file_names_its_line_and_exits_2(env):
    (env / "flags.toml").write_text(FLAG + "production_percent = " + "1" * 5000 + "\n")
    code, _, err = shipdeck(env, "list")
    assert code == 2 and "flags.toml:7: invalid TOML: number too long" in one_line_error(err)


@pytest.mark.parametrize("percent", ["١٠", "1_0", "²", "1" * 5000, "10.0"])
def test_a_percentage_in_other_digits_exits_2_and_leaves_the_file_unchanged(env, percent):
    path = env / "flags.toml"
    path.write_text(FLAG)
    code, _, err = shipdeck(env, "set", "f", "--percent", percent)
    assert code == 2 and "must be an integer 0–100" in one_line_error(err)
    assert path.read_text() == FLAG


# -- file systems that refuse the write (exit 1: the request was valid) -------------------------


def test_set_into_a_directory_that_refuses_the_temp_file_exits_1_and_leaves_the_file(
    env, monkeypatch
):
    path = env / "flags.toml"
    path.write_text(FLAG)

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system", str(env))

    monkeypatch.setattr(store_module.tempfile, "mkstemp", read_only)
    code, _, err = shipdeck(env, "set", "f", "--percent", "10")
    assert code == 1 and "Read-only file system" in one_line_error(err)
    assert path.read_text() == FLAG and sorted(p.name for p in env.iterdir()) == [
        ".flags.toml.lock",
        "flags.toml",
    ]


def test_set_when_the_lock_file_cannot_be_created_exits_1_and_leaves_the_file(env, monkeypatch):
    path = env / "flags.toml"
    path.write_text(FLAG)

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(env / ".flags.toml.lock"))

    monkeypatch.setattr(filelock.FileLock, "acquire", denied)
    code, _, err = shipdeck(env, "set", "f", "--percent", "10")
    assert code == 1 and "Permission denied" in one_line_error(err)
    assert path.read_text() == FLAG


def test_set_on_a_read_only_flags_file_exits_1_and_leaves_it_unchanged(env):
    path = env / "flags.toml"
    path.write_text(FLAG)
    path.chmod(0o444)
    code, _, err = shipdeck(env, "set", "f", "--percent", "10")
    assert code == 1 and "read-only" in one_line_error(err)
    assert path.read_text() == FLAG and mode(path) == 0o444


def test_set_into_a_read_only_directory_exits_1_and_leaves_the_file(env, monkeypatch):
    # Root writes into a 0555 directory, so the refusal a read-only mount gives
    # is simulated where the write begins: creating the temp file beside it.
    path = env / "flags.toml"
    path.write_text(FLAG)

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(env))

    monkeypatch.setattr(store_module.tempfile, "mkstemp", read_only)
    code, _, err = shipdeck(env, "set", "f", "--percent", "10")
    assert code == 1 and "cannot write" in one_line_error(err)
    assert "Read-only file system" in one_line_error(err)
    assert path.read_text() == FLAG


def test_a_refused_change_creates_no_lock_file_and_no_state_db(env):
    code, _, _ = shipdeck(env, "set", "nope", "--percent", "10")
    assert code == 2 and list(env.iterdir()) == []


# -- file modes -----------------------------------------------------------------------------------


def test_a_flags_file_shipdeck_creates_is_0600_even_with_umask_0(env):
    old = os.umask(0)
    try:
        code, _, err = shipdeck(env, "create", "f", "--owner", "o", "--type", "release")
    finally:
        os.umask(old)
    assert code == 0, err
    assert mode(env / "flags.toml") == 0o600


def test_the_flags_lock_file_is_created_0600(env):
    old = os.umask(0)
    try:
        shipdeck(env, "create", "f", "--owner", "o", "--type", "release")
    finally:
        os.umask(old)
    assert mode(env / ".flags.toml.lock") == 0o600


def test_a_rewrite_keeps_the_existing_flags_files_mode(env):
    path = env / "flags.toml"
    path.write_text(FLAG)
    path.chmod(0o640)
    assert shipdeck(env, "set", "f", "--percent", "10")[0] == 0
    assert mode(path) == 0o640 and "production_percent = 10" in path.read_text()


def test_a_directory_shipdeck_creates_for_the_flags_file_is_0700(env):
    path = env / "config" / "flags.toml"
    code, _, err = shipdeck(env, "create", "f", "--owner", "o", "--type", "release", flags=path)
    assert code == 0, err
    assert mode(path.parent) == 0o700 and mode(path) == 0o600


# -- terminals ------------------------------------------------------------------------------------

HOSTILE = """\
version = 1

[flags.f]
created = 2026-01-01
cleanup_by = 2026-01-02
owner = "te\\u001b[2Jam"
type = "release"
description = "line\\nFAKE LINE\\u001b]0;title\\u0007"
notes = "\\u202eevil"
"""


def test_list_escapes_control_characters_in_owners(env, monkeypatch):
    (env / "flags.toml").write_text(HOSTILE)
    monkeypatch.setenv("SHIPDECK_FLAG_F", "\x1b[31mon")
    code, out, _ = shipdeck(env, "list")
    assert code == 0 and "\x1b" not in out and "te\\x1b[2Jam" in out


def test_show_escapes_control_characters_in_descriptions_and_notes(env):
    (env / "flags.toml").write_text(HOSTILE)
    code, out, _ = shipdeck(env, "show", "f")
    assert code == 0 and "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "FAKE LINE" in out.splitlines()[0]


def test_stale_escapes_control_characters_in_owners(env):
    (env / "flags.toml").write_text(HOSTILE)
    code, out, _ = shipdeck(env, "stale")
    assert code == 0 and "PAST_CLEANUP_BY" in out and "\x1b" not in out


def test_json_output_keeps_control_characters_json_escaped(env):
    (env / "flags.toml").write_text(HOSTILE)
    code, out, _ = shipdeck(env, "show", "f", "--json")
    assert code == 0 and "\x1b" not in out
    assert json.loads(out)["owner"] == "te\x1b[2Jam"


def test_an_invalid_key_in_the_flags_file_is_escaped_in_the_error(env):
    (env / "flags.toml").write_text('[flags."bad\\u001b[2Jkey"]\nowner = "o"\n')
    code, _, err = shipdeck(env, "list")
    assert code == 2 and "\x1b" not in err and "Traceback" not in err
