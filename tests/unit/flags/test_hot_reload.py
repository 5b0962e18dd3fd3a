"""Hot reload: a watcher thread swaps in new file versions; a broken file keeps the last good."""

from __future__ import annotations

import gc
import logging
import threading
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

from console.flags import FlagFile
from console.flags import evaluate as evaluate_module
from console.flags.model import Flag, FlagSet
from console.flags.store import render

POLL_S = 0.05
WAIT_S = 5.0


def write(path: Path, percent: int, enabled: bool = True) -> None:
    flag = Flag(key="f", owner="team", type="release", created=date(2026, 1, 1))
    flag = replace(flag, enabled=enabled).with_env("production", enabled=True, percent=percent)
    text = render(FlagSet({"f": flag}))
    temp = path.with_suffix(".tmp")
    temp.write_text(text)
    temp.replace(path)


def eventually(condition, timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_a_changed_file_is_picked_up_by_the_watcher(tmp_path):
    path = tmp_path / "flags.toml"
    write(path, 100)
    with FlagFile(path, poll_interval_s=POLL_S) as flags:
        assert flags.enabled("f", user_id="u1") is True
        write(path, 100, enabled=False)
        assert eventually(lambda: flags.enabled("f", user_id="u1") is False)
        assert flags.version == 2


def test_a_broken_file_keeps_the_last_good_flags_and_reports_the_error(tmp_path):
    path = tmp_path / "flags.toml"
    write(path, 100)
    with FlagFile(path, poll_interval_s=POLL_S) as flags:
        path.write_text("[flags.f\nowner = ")
        assert eventually(lambda: flags.last_error is not None)
        assert "invalid TOML" in flags.last_error and str(path) in flags.last_error
        assert flags.enabled("f", user_id="u1") is True
        write(path, 100, enabled=False)
        assert eventually(lambda: flags.last_error is None)
        assert flags.enabled("f", user_id="u1") is False


def test_a_file_with_an_invalid_value_keeps_the_last_good_flags(tmp_path):
    path = tmp_path / "flags.toml"
    write(path, 100)
    flags = FlagFile(path, watch=False)
    path.write_text(
        path.read_text().replace("production_percent = 100", "production_percent = 150")
    )
    assert flags.reload() is False
    assert "flags.f.production_percent: must be an integer 0–100" in flags.last_error
    assert flags.enabled("f", user_id="u1") is True


def test_a_missing_file_is_an_error_not_an_exception(tmp_path):
    flags = FlagFile(tmp_path / "nope.toml", watch=False)
    assert "not found" in flags.last_error
    assert flags.enabled("f", user_id="u1") is False


def test_a_file_created_later_is_picked_up(tmp_path):
    path = tmp_path / "flags.toml"
    with FlagFile(path, poll_interval_s=POLL_S) as flags:
        write(path, 100)
        assert eventually(lambda: flags.enabled("f", user_id="u1"))


def test_the_hot_path_never_stats_the_file(tmp_path, monkeypatch):
    path = tmp_path / "flags.toml"
    write(path, 50)
    flags = FlagFile(path, watch=False)
    calls = []
    real_stat = evaluate_module.os.stat
    monkeypatch.setattr(
        evaluate_module.os, "stat", lambda *a, **k: calls.append(a) or real_stat(*a, **k)
    )
    for i in range(1000):
        flags.enabled("f", user_id=f"u{i}")
    assert calls == []


def test_evaluation_does_not_block_while_a_reload_is_in_progress(tmp_path, monkeypatch):
    path = tmp_path / "flags.toml"
    write(path, 100)
    flags = FlagFile(path, watch=False)
    started, release = threading.Event(), threading.Event()
    real_parse = evaluate_module.parse_flags

    def slow_parse(*args, **kwargs):
        started.set()
        release.wait(5)
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(evaluate_module, "parse_flags", slow_parse)
    reloader = threading.Thread(target=flags.reload)
    reloader.start()
    assert started.wait(5)
    began = time.monotonic()
    assert all(flags.enabled("f", user_id=f"u{i}") for i in range(10000))
    assert time.monotonic() - began < 1.0
    release.set()
    reloader.join(5)


def test_listeners_hear_about_every_reload_attempt(tmp_path):
    path = tmp_path / "flags.toml"
    write(path, 100)
    flags = FlagFile(path, watch=False)
    heard: list[str | None] = []
    flags.subscribe(heard.append)
    path.write_text("not toml [")
    flags.check()
    write(path, 10)
    flags.check()
    assert heard[0] is not None and heard[1] is None


def test_close_stops_the_watcher_thread(tmp_path):
    path = tmp_path / "flags.toml"
    write(path, 100)
    flags = FlagFile(path, poll_interval_s=POLL_S)
    thread = flags._thread
    flags.close()
    assert thread is not None and not thread.is_alive()


def test_a_dropped_flag_file_ends_its_watcher_thread(tmp_path):
    path = tmp_path / "flags.toml"
    write(path, 100)
    flags = FlagFile(path, poll_interval_s=POLL_S)
    thread = flags._thread
    del flags
    gc.collect()
    assert thread is not None
    thread.join(WAIT_S)
    assert not thread.is_alive()


def test_a_file_truncated_to_zero_bytes_keeps_the_last_good_flags_and_logs_why_once(
    tmp_path, caplog
):
    path = tmp_path / "flags.toml"
    write(path, 100)
    flags = FlagFile(path, watch=False)
    caplog.set_level(logging.WARNING, logger="console.flags")
    path.write_bytes(b"")
    assert flags.reload() is False and flags.reload() is False
    assert flags.enabled("f", user_id="u1") is True
    assert "empty" in flags.last_error
    assert len([r for r in caplog.records if "empty" in r.getMessage()]) == 1


def test_an_empty_file_at_first_load_means_no_flags(tmp_path):
    path = tmp_path / "flags.toml"
    path.write_bytes(b"")
    flags = FlagFile(path, watch=False)
    assert flags.last_error is None and len(flags.flags) == 0


def test_a_file_with_only_the_version_removes_every_flag_on_purpose(tmp_path):
    path = tmp_path / "flags.toml"
    write(path, 100)
    flags = FlagFile(path, watch=False)
    path.write_text("version = 1\n")
    assert flags.reload() is True and flags.enabled("f", user_id="u1") is False


def test_a_deeply_nested_file_keeps_the_last_good_flags(tmp_path):
    path = tmp_path / "flags.toml"
    write(path, 100)
    flags = FlagFile(path, watch=False)
    path.write_text("x = " + "[" * 3000 + "]" * 3000 + "\n")
    assert flags.reload() is False
    assert flags.last_error == f"{path}:1: invalid TOML: nested too deeply"
    assert flags.enabled("f", user_id="u1") is True


def test_an_unreadable_file_keeps_the_last_good_flags(tmp_path, monkeypatch):
    path = tmp_path / "flags.toml"
    write(path, 100)
    flags = FlagFile(path, watch=False)

    def refuse(_path):
        raise PermissionError(13, "Permission denied", str(_path))

    monkeypatch.setattr(evaluate_module, "read_flags_file", refuse)
    assert flags.reload() is False and "Permission denied" in flags.last_error
    assert flags.enabled("f", user_id="u1") is True


def test_a_non_utf8_file_keeps_the_last_good_flags(tmp_path):
    path = tmp_path / "flags.toml"
    write(path, 100)
    flags = FlagFile(path, watch=False)
    path.write_bytes(b"version = 1\n# \xff\xfe\n")
    assert flags.reload() is False and "not valid UTF-8" in flags.last_error
    assert flags.enabled("f", user_id="u1") is True
