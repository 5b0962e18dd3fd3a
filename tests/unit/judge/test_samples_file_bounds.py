"""``analyze --samples FILE`` is bounded: any file type, size, nesting, count, number.

Every refusal goes through the real CLI entry, in process: exit 2, one line on
stderr, no traceback, and the file unchanged. Bounds are asserted by what was
read (never more than the limit + 1 byte), not by timing.
"""

from __future__ import annotations

import io
import json
import os
import threading
from pathlib import Path

import pytest

from console.cli import run
from console.cli_commands.output import Output
from console.core import replay
from console.core.replay import (
    MAX_CONTAINERS,
    MAX_COUNT,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_INTERVALS,
    MAX_MAGNITUDE,
)

BUCKETS = {"0.05": 100, "0.1": 142, "+Inf": 150}


def interval(**canary: object) -> dict:
    arm = {"requests": 150, "errors": 1, "latency_buckets": dict(BUCKETS)}
    return {"weight_pct": 5, "baseline": dict(arm), "canary": {**arm, **canary}}


@pytest.fixture(autouse=True)
def _no_config(tmp_path, monkeypatch):
    """No ./shipdeck.toml or $SHIPDECK_CONFIG: the default template judges."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHIPDECK_CONFIG", raising=False)


def analyze(path: Path | str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["analyze", "--samples", str(path), "--json"], Output(True, out, err))
    return code, out.getvalue(), err.getvalue()


def refused(path: Path | str) -> str:
    """Assert the documented refusal (exit 2, one line, no traceback); return the line."""
    code, out, err = analyze(path)
    assert code == 2, (code, out, err)
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert json.loads(out)["error"]["code"] == "invalid"
    return err.strip()


@pytest.fixture
def bytes_read(monkeypatch) -> list[int]:
    """Every ``os.read`` the samples loader makes, by size."""
    sizes: list[int] = []
    real_read = os.read

    def counting_read(fd: int, n: int) -> bytes:
        chunk = real_read(fd, n)
        sizes.append(len(chunk))
        return chunk

    monkeypatch.setattr(replay.os, "read", counting_read)
    return sizes


def write(tmp_path: Path, data: str | bytes) -> Path:
    path = tmp_path / "samples.json"
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_dev_zero_is_refused_after_reading_the_limit_plus_one_byte(bytes_read):
    line = refused("/dev/zero")
    assert sum(bytes_read) == MAX_FILE_BYTES + 1
    assert f"/dev/zero: it holds more than the {MAX_FILE_BYTES} bytes" in line


def test_a_fifo_written_forever_is_refused_after_the_limit_plus_one_byte(tmp_path, bytes_read):
    fifo = tmp_path / "samples.fifo"
    os.mkfifo(fifo)
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        # Bounded by the test: stops when the reader closes (EPIPE), when told,
        # or after 4x the limit, whichever comes first.
        fd = os.open(fifo, os.O_WRONLY)
        try:
            block = b"[" * 65536
            while not stop.is_set() and written[0] < 4 * MAX_FILE_BYTES:
                written[0] += os.write(fd, block)
        except BrokenPipeError:
            pass
        finally:
            os.close(fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        line = refused(fifo)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert sum(bytes_read) == MAX_FILE_BYTES + 1
    assert written[0] < 4 * MAX_FILE_BYTES  # the writer stopped because the reader left
    assert f"more than the {MAX_FILE_BYTES} bytes" in line


def test_a_fifo_with_a_small_document_is_judged(tmp_path):
    fifo = tmp_path / "samples.fifo"
    os.mkfifo(fifo)
    document = json.dumps({"interval_s": 60, "intervals": [interval()]}).encode()

    def writer() -> None:
        fd = os.open(fifo, os.O_WRONLY)
        try:
            os.write(fd, document)
        finally:
            os.close(fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    code, out, _ = analyze(fifo)
    thread.join(timeout=10)
    assert code == 3 and json.loads(out)["verdict"] == "inconclusive"


def test_a_large_regular_file_is_refused_without_being_read(tmp_path, bytes_read):
    path = tmp_path / "big.json"
    with path.open("wb") as file:
        file.truncate(60 * 1024 * 1024)  # sparse: 60 MB of NUL bytes, instantly
    line = refused(path)
    assert bytes_read == []
    assert f"its {60 * 1024 * 1024} bytes are more than the {MAX_FILE_BYTES} bytes" in line


def test_a_directory_is_refused_with_one_line(tmp_path):
    assert "is a directory" in refused(tmp_path)


def test_a_missing_file_is_refused_with_one_line(tmp_path):
    assert refused(tmp_path / "nope.json").endswith("nope.json: no such file")


def test_deep_nesting_is_refused_before_the_decoder_recurses(tmp_path):
    line = refused(write(tmp_path, "[" * 100_000 + "]" * 100_000))
    assert f"nested more than {MAX_DEPTH} levels deep" in line


def test_nesting_just_past_the_documented_depth_is_refused(tmp_path):
    deep = '{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH
    line = refused(write(tmp_path, f'{{"interval_s": 60, "intervals": [{deep}]}}'))
    assert f"nested more than {MAX_DEPTH} levels deep" in line


def test_millions_of_tiny_intervals_are_refused_before_parsing(tmp_path, monkeypatch):
    parsed = []
    real_loads = json.loads

    def loads(text, **kwargs):
        if len(text) > 1000:  # the samples file, not the test's own small output
            parsed.append(len(text))
        return real_loads(text, **kwargs)

    monkeypatch.setattr(replay.json, "loads", loads)
    tiny = "{}," * ((MAX_FILE_BYTES - 64) // 3)
    line = refused(write(tmp_path, f'{{"interval_s": 60, "intervals": [{tiny}{{}}]}}'))
    assert parsed == []  # refused by counting, not by building millions of dicts
    assert f"more than {MAX_CONTAINERS} JSON objects and arrays" in line


def test_brackets_inside_strings_do_not_count_as_containers(tmp_path):
    many_brackets = "[" * (MAX_CONTAINERS + 10)
    document = {"interval_s": 60, "intervals": [interval(gauges={many_brackets: 1.0})]}
    code, out, _ = analyze(write(tmp_path, json.dumps(document)))
    assert code == 3 and json.loads(out)["verdict"] == "inconclusive"


def test_more_intervals_than_the_limit_are_refused(tmp_path):
    document = {"interval_s": 60, "intervals": [{"baseline": None}] * (MAX_INTERVALS + 1)}
    line = refused(write(tmp_path, json.dumps(document)))
    assert f"$.intervals: {MAX_INTERVALS + 1} intervals is more than the {MAX_INTERVALS}" in line


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_number_literals_are_refused(tmp_path, token):
    text = json.dumps({"interval_s": 60, "intervals": [interval()]})
    line = refused(write(tmp_path, text.replace('"errors": 1', f'"errors": {token}', 1)))
    assert f"{token} is not allowed: every number must be finite" in line


def test_a_number_that_overflows_a_float_is_refused_at_its_path(tmp_path):
    text = json.dumps({"interval_s": 60, "intervals": [interval()]})
    line = refused(write(tmp_path, text.replace('"interval_s": 60', '"interval_s": 1e400')))
    assert "$.interval_s: expected a number of seconds in (0, 86400], got Infinity" in line


def test_an_integer_with_thousands_of_digits_is_refused(tmp_path):
    text = json.dumps({"interval_s": 60, "intervals": [interval()]})
    line = refused(write(tmp_path, text.replace('"errors": 1', '"errors": ' + "9" * 5000, 1)))
    assert "an integer has too many digits" in line


@pytest.mark.parametrize(
    ("canary", "where"),
    [
        ({"errors": -1}, "$.intervals[0].canary.errors"),
        ({"requests": -150}, "$.intervals[0].canary.requests"),
        ({"requests": MAX_COUNT + 1}, "$.intervals[0].canary.requests"),
        ({"requests": 10**400}, "$.intervals[0].canary.requests"),
        ({"requests": 1e300}, "$.intervals[0].canary.requests"),
        (
            {"latency_buckets": {"0.1": -5, "+Inf": 150}},
            '$.intervals[0].canary.latency_buckets["0.1"]',
        ),
        ({"counters": {"checkouts": -1}}, "$.intervals[0].canary.counters.checkouts"),
        ({"gauges": {"cpu": MAX_MAGNITUDE * 10}}, "$.intervals[0].canary.gauges.cpu"),
    ],
)
def test_negative_or_out_of_range_counts_are_refused_at_their_path(tmp_path, canary, where):
    document = {"interval_s": 60, "intervals": [interval(**canary)]}
    assert f"{where}: expected" in refused(write(tmp_path, json.dumps(document)))


def test_a_huge_value_is_clipped_in_the_message(tmp_path):
    document = {"interval_s": "x" * 1_000_000, "intervals": [interval()]}
    line = refused(write(tmp_path, json.dumps(document)))
    assert len(line) < 300 and '"xxxx' in line


def test_a_key_with_control_characters_is_escaped_in_the_message(tmp_path):
    document = {"interval_s": 60, "intervals": [{**interval(), "\x1b[2J\nweight": 5}]}
    line = refused(write(tmp_path, json.dumps(document)))
    assert "\x1b" not in line and '$.intervals[0]["\\u001b[2J\\nweight"]: unknown key' in line


def test_an_unknown_top_level_key_is_refused_not_ignored(tmp_path):
    document = {"interval_s": 60, "intervals": [interval()], "baseline_refrence": {}}
    assert "$.baseline_refrence: unknown key" in refused(write(tmp_path, json.dumps(document)))


def test_bytes_that_are_not_utf8_are_refused_with_their_line(tmp_path):
    line = refused(write(tmp_path, b'{"interval_s": 60,\n "intervals": "\xff"}'))
    assert "not UTF-8 text (line 2" in line


def test_a_leading_byte_order_mark_is_accepted(tmp_path):
    text = json.dumps({"interval_s": 60, "intervals": [interval()]})
    code, out, _ = analyze(write(tmp_path, "\ufeff" + text))
    assert code == 3 and json.loads(out)["verdict"] == "inconclusive"


def test_the_help_states_the_limits_the_loader_enforces():
    from console.cli_commands import analyze as command

    doc = " ".join((command.__doc__ or "").split())
    assert f"larger than {MAX_FILE_BYTES // 2**20} MiB" in doc
    assert f"more than {MAX_INTERVALS} intervals or {MAX_CONTAINERS} JSON objects" in doc
    assert f"deeper than {MAX_DEPTH} levels" in doc and "[0, 2**53 - 1]" in doc
    assert MAX_COUNT == 2**53 - 1


def test_a_path_with_control_characters_or_a_nul_byte_is_one_safe_line(tmp_path):
    assert "\x1b" not in refused(tmp_path / "\x1b[2Jx.json")
    assert "embedded null byte" in refused(f"{tmp_path}/a\0b.json")
