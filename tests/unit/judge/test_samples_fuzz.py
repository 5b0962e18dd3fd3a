"""Fuzzing ``analyze --samples FILE --json`` through the real CLI entry, in process.

Any document or bytes give a verdict (0 pass, 1 fail, 3 inconclusive) or a
one-line refusal (2), never a traceback, and the file is never changed.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.cli import run
from console.cli_commands.output import Output

VALID = {
    "interval_s": 60,
    "intervals": [
        {
            "weight_pct": 5,
            "baseline": {
                "requests": 2850,
                "errors": 28,
                "latency_buckets": {"0.1": 2700, "+Inf": 2850},
            },
            "canary": {"requests": 150, "errors": 1, "latency_buckets": {"0.1": 142, "+Inf": 150}},
        }
    ],
}

numbers = st.one_of(
    st.integers(min_value=-5, max_value=10**4),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.integers(min_value=10**300, max_value=10**400),  # beyond a float
    st.floats(),  # NaN and ±Infinity included: json.dumps writes them as literals
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=8))
keys = st.one_of(
    st.sampled_from(
        [
            "interval_s",
            "intervals",
            "baseline_reference",
            "weight_pct",
            "baseline",
            "canary",
            "requests",
            "errors",
            "latency_buckets",
            "gauges",
            "counters",
            "0.05",
            "0.1",
            "+Inf",
            "inf",
            "NaN",
            "-1",
            "cpu",
        ]
    ),
    st.text(max_size=6),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=30,
)
arms = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"requests": numbers},
        optional={
            "errors": numbers,
            "latency_buckets": st.dictionaries(keys, numbers, max_size=4),
            "gauges": st.dictionaries(keys, numbers, max_size=2),
            "counters": st.dictionaries(keys, numbers, max_size=2),
        },
    ),
    json_values,
)
shaped = st.fixed_dictionaries(
    {
        "interval_s": st.one_of(numbers, json_values),
        "intervals": st.lists(
            st.fixed_dictionaries(
                {}, optional={"weight_pct": numbers, "baseline": arms, "canary": arms}
            )
            | json_values,
            max_size=4,
        ),
    },
    optional={"baseline_reference": json_values},
)
documents = st.one_of(shaped, json_values).map(lambda d: json.dumps(d).encode())
valid_bytes = json.dumps(VALID).encode()
mutated = st.tuples(
    st.integers(min_value=0, max_value=len(valid_bytes)),
    st.integers(min_value=0, max_value=8),
    st.binary(max_size=8),
).map(lambda t: valid_bytes[: t[0]] + t[2] + valid_bytes[t[0] + t[1] :])
raw = st.one_of(documents, mutated, st.binary(max_size=300))


@pytest.fixture(autouse=True)
def _no_config(tmp_path, monkeypatch):
    """No ./shipdeck.toml or $SHIPDECK_CONFIG: the default template judges."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHIPDECK_CONFIG", raising=False)


def _analyze(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "samples.json"
        path.write_bytes(data)
        before = os.stat(path)
        out, err = io.StringIO(), io.StringIO()
        code = run(["analyze", "--samples", str(path), "--json"], Output(True, out, err))
        after = os.stat(path)
        assert path.read_bytes() == data
        assert (after.st_mtime_ns, after.st_size, after.st_mode) == (
            before.st_mtime_ns,
            before.st_size,
            before.st_mode,
        )
    document = json.loads(out.getvalue())
    assert "Traceback" not in err.getvalue()
    if code == 2:
        assert document["error"]["code"] == "invalid"
        assert err.getvalue().count("\n") == 1
    else:
        # 1 is the documented exit of a FAIL verdict, never of an error
        expected = {0: "pass", 1: "fail", 3: "inconclusive"}
        assert code in expected and document["verdict"] == expected[code]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw)
def test_any_samples_file_gives_a_verdict_or_one_line_exit_2_and_is_left_unchanged(data):
    _analyze(data)
