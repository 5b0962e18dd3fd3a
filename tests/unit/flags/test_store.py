"""The flags file as a store: strict parsing, stable layout, atomic locked writes, audit."""

from __future__ import annotations

import json
import multiprocessing
import threading
import tomllib
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import filelock
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.core.errors import Blocked, ConfigInvalid, InvalidInput
from console.flags import FlagStore, new_flag, parse_flags
from console.flags.model import ENVIRONMENTS, FLAG_TYPES, STAGES, FlagSet, Rule
from console.flags.store import render

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PROCESSES = 10
FLIPS = 100
CONTEXT = "spawn"


def created(store: FlagStore, key: str = "new-checkout", audit=None) -> None:
    flag = new_flag(key, owner="payments", flag_type="release", created=date(2026, 3, 1))
    store.mutate(lambda flags: flags.with_flag(flag), "alice", audit, now=lambda: NOW)


def test_a_new_flag_is_off_everywhere_and_stamped(tmp_path):
    store = FlagStore(tmp_path / "flags.toml")
    created(store)
    flag = store.load().require("new-checkout")
    assert not flag.env("staging").enabled and not flag.env("production").enabled
    assert (flag.last_changed_by, flag.last_changed_at) == ("alice", NOW)
    assert flag.cleanup_by == date(2026, 3, 31)


def test_the_layout_is_sorted_one_table_per_flag_and_stable(tmp_path):
    store = FlagStore(tmp_path / "flags.toml")
    created(store, "zeta")
    created(store, "alpha")
    text = store.path.read_text()
    assert text.index("[flags.alpha]") < text.index("[flags.zeta]")
    fields = [
        line.split(" =")[0]
        for line in text.split("[flags.alpha]")[1].split("\n\n")[0].split("\n")
        if " = " in line
    ]
    assert fields == sorted(fields)
    assert render(store.load()) == text


def test_a_flip_is_a_one_line_diff_plus_its_timestamps(tmp_path):
    store = FlagStore(tmp_path / "flags.toml")
    created(store)
    before = store.path.read_text().splitlines()
    later = datetime(2026, 3, 2, tzinfo=UTC)
    store.mutate(
        lambda f: f.with_flag(f.require("new-checkout").with_env("production", percent=10)),
        "alice",
        now=lambda: later,
    )
    after = store.path.read_text().splitlines()
    changed = {b.split(" =")[0] for b, a in zip(before, after, strict=True) if a != b}
    assert changed == {"production_percent", "production_changed_at", "last_changed_at"}


def test_every_change_is_audited_with_old_and_new(tmp_path):
    store = FlagStore(tmp_path / "flags.toml")
    records = []
    created(store, audit=lambda *args: records.append(args))
    store.mutate(
        lambda f: f.with_flag(f.require("new-checkout").with_env("production", percent=25)),
        "bob",
        lambda *args: records.append(args),
    )
    store.mutate(lambda f: f.without("new-checkout"), "carol", lambda *a: records.append(a))
    (k1, env1, op1, old1, new1), (k2, env2, op2, old2, new2), (_, env3, op3, old3, new3) = records
    assert (k1, env1, op1, old1, new1["production_percent"]) == (
        "new-checkout",
        None,
        "alice",
        None,
        0,
    )
    assert (env2, op2, old2["production_percent"], new2["production_percent"]) == (
        "production",
        "bob",
        0,
        25,
    )
    assert (env3, op3, old3["production_percent"], new3) == (None, "carol", 25, None)
    json.dumps(records)  # the audit payloads are JSON-safe


def test_a_change_function_that_raises_leaves_the_file_unchanged(tmp_path):
    store = FlagStore(tmp_path / "flags.toml")
    created(store)
    before = store.path.read_bytes()
    with pytest.raises(InvalidInput, match="unknown flag 'nope'"):
        store.mutate(lambda f: f.with_flag(f.require("nope")), "alice")
    with pytest.raises(InvalidInput, match="must be an integer 0–100"):
        store.mutate(
            lambda f: f.with_flag(f.require("new-checkout").with_env("production", percent=101)),
            "alice",
        )
    assert store.path.read_bytes() == before


def test_a_change_that_changes_nothing_does_not_write(tmp_path):
    store = FlagStore(tmp_path / "flags.toml")
    created(store)
    mtime = store.path.stat().st_mtime_ns
    records = []
    store.mutate(lambda f: f, "alice", lambda *a: records.append(a))
    assert store.path.stat().st_mtime_ns == mtime and records == []


def test_no_temp_files_are_left_behind(tmp_path):
    store = FlagStore(tmp_path / "flags.toml")
    created(store)
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".tmp") == []


def test_a_held_lock_blocks_with_a_clear_message(tmp_path):
    store = FlagStore(tmp_path / "flags.toml", lock_timeout_s=0.2)
    holder = filelock.FileLock(str(tmp_path / ".flags.toml.lock"))
    acquired, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder:
            acquired.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert acquired.wait(5)
        with pytest.raises(Blocked, match="locked by another writer"):
            created(store)
    finally:
        release.set()
        thread.join(5)


# -- strict parsing with file:line messages --------------------------------------------------


GOOD = """\
version = 1

[flags.new-checkout]
created = 2026-03-01
owner = "payments"
type = "release"
production_enabled = true
production_percent = 150
"""


def test_a_bad_percentage_is_reported_with_file_line_and_field():
    with pytest.raises(ConfigInvalid) as error:
        parse_flags(GOOD, "flags.toml")
    assert error.value.errors == [
        "flags.toml:8: flags.new-checkout.production_percent: must be an integer 0–100"
    ]


def test_every_problem_is_reported_one_per_line():
    text = GOOD.replace("150", "10").replace('type = "release"', 'type = "feature"')
    text += "producton_enabled = true\n"
    with pytest.raises(ConfigInvalid) as error:
        parse_flags(text, "flags.toml")
    assert error.value.errors == [
        "flags.toml:9: flags.new-checkout.producton_enabled: unknown field",
        "flags.toml:6: flags.new-checkout.type: must be one of "
        "release, experiment, operational, kill-switch, permission",
    ]


def test_missing_owner_and_bad_key_are_reported():
    text = '[flags.Bad]\nowner = "x"\n\n[flags.ok]\ntype = "release"\ncreated = 2026-01-01\n'
    with pytest.raises(ConfigInvalid) as error:
        parse_flags(text, "f.toml")
    assert error.value.errors == [
        "f.toml:1: flags.Bad: invalid key: must match [a-z0-9][a-z0-9._-]{0,99}",
        "f.toml:4: flags.ok: missing required field 'owner'",
    ]


def test_invalid_toml_is_reported_with_its_line():
    with pytest.raises(ConfigInvalid, match=r"^flags.toml:2: invalid TOML"):
        parse_flags("version = 1\n[flags.x\n", "flags.toml")


def test_rules_are_validated():
    text = GOOD.replace("150", "10") + (
        '\n[[flags.new-checkout.rules]]\nattribute = "v"\nop = "semver_gt"\nvalue = "two"\n'
    )
    with pytest.raises(ConfigInvalid) as error:
        parse_flags(text, "flags.toml")
    assert error.value.errors == [
        "flags.toml:10: flags.new-checkout.rules: rule 1: value 'two' is not a semantic version "
        "(MAJOR.MINOR.PATCH)"
    ]


def test_the_demo_flags_file_is_valid_and_canonical():
    path = Path(__file__).resolve().parents[3] / "config" / "flags.demo.toml"
    flags = parse_flags(path.read_text(), str(path))
    assert {"new-checkout-flow", "dark-mode", "search-v2"} <= set(flags.flags)
    assert render(flags) == path.read_text()


# -- 10 processes × 100 concurrent read-modify-write flips -----------------------------------


def _flipper(path: str, index: int, flips: int, audit_dir: str) -> None:
    store = FlagStore(path, lock_timeout_s=60)
    key = f"counter-{index}"
    log = Path(audit_dir) / f"{key}.jsonl"

    def audit(flag_key, environment, operator, old, new):
        with log.open("a") as handle:
            handle.write(json.dumps([old["production_percent"], new["production_percent"]]) + "\n")

    def increment(flags):
        flag = flags.require(key)
        percent = flag.env("production").percent + 1
        flag = flag.with_env("production", percent=percent, enabled=percent % 2 == 1)
        return flags.with_flag(flag)

    for _ in range(flips):
        store.mutate(increment, f"proc-{index}", audit)


def _reader(path: str, stop, results) -> None:  # type: ignore[no-untyped-def]
    reads = failures = 0
    while not stop.is_set():
        try:
            tomllib.loads(Path(path).read_text())
            reads += 1
        except Exception:
            failures += 1
    results.put((reads, failures))


def test_ten_processes_flipping_concurrently_lose_no_update_and_the_file_stays_valid(tmp_path):
    path = tmp_path / "flags.toml"
    store = FlagStore(path)
    for index in range(PROCESSES):
        created(store, f"counter-{index}")
    audit_dir = tmp_path / "audit"
    audit_dir.mkdir()
    context = multiprocessing.get_context(CONTEXT)
    stop, results = context.Event(), context.Queue()
    reader = context.Process(target=_reader, args=(str(path), stop, results))
    reader.start()
    workers = [
        context.Process(target=_flipper, args=(str(path), i, FLIPS, str(audit_dir)))
        for i in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(300)
    stop.set()
    reads, failures = results.get(timeout=60)
    reader.join(60)
    assert [w.exitcode for w in workers] == [0] * PROCESSES
    flags = store.load()
    assert [flags.require(f"counter-{i}").env("production").percent for i in range(PROCESSES)] == [
        FLIPS
    ] * PROCESSES
    for index in range(PROCESSES):
        lines = (audit_dir / f"counter-{index}.jsonl").read_text().splitlines()
        assert [json.loads(line) for line in lines] == [[n, n + 1] for n in range(FLIPS)]
    assert failures == 0 and reads > 0


# -- round trips and what the file keeps -----------------------------------------------------


def test_comments_are_not_kept_so_what_matters_lives_in_notes(tmp_path):
    path = tmp_path / "flags.toml"
    path.write_text(
        GOOD.replace("150", "10")
        + 'notes = "Do not raise above 50% before the payment provider migration"\n'
        + "# a comment tomli-w cannot keep\n"
    )
    store = FlagStore(path)
    store.mutate(
        lambda f: f.with_flag(f.require("new-checkout").with_env("production", percent=20)), "a"
    )
    text = path.read_text()
    assert "# a comment" not in text
    assert "Do not raise above 50% before the payment provider migration" in text


_keys = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,30}", fullmatch=True)
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))


@st.composite
def _flags(draw):  # type: ignore[no-untyped-def]
    flag = new_flag(
        draw(_keys),
        owner=draw(_text.filter(str.strip)),
        flag_type=draw(st.sampled_from(FLAG_TYPES)),
        created=draw(st.dates(date(2000, 1, 1), date(2100, 1, 1))),
        description=draw(_text),
    )
    flag = replace(
        flag,
        enabled=draw(st.booleans()),
        stage=draw(st.sampled_from(STAGES)),
        allow=tuple(draw(st.lists(_text, max_size=3))),
        deny=tuple(draw(st.lists(_text, max_size=3))),
        rules=tuple(
            draw(
                st.lists(
                    st.builds(Rule, st.just("country"), st.just("in"), st.tuples(_text)), max_size=2
                )
            )
        ),
        notes=draw(_text),
        last_changed_at=draw(st.none() | _moments),
    )
    for env in ENVIRONMENTS:
        flag = flag.with_env(
            env,
            enabled=draw(st.booleans()),
            percent=draw(st.integers(0, 100)),
            changed_at=draw(st.none() | _moments),
        )
    return flag


@settings(max_examples=150, deadline=None)
@given(flags=st.lists(_flags(), max_size=4, unique_by=lambda f: f.key))
def test_any_valid_flag_set_round_trips_through_the_file(flags):
    flag_set = FlagSet({f.key: f for f in sorted(flags, key=lambda f: f.key)})
    text = render(flag_set)
    assert parse_flags(text, "flags.toml") == flag_set
    assert render(parse_flags(text, "flags.toml")) == text
