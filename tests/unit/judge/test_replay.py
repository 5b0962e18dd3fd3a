"""``shipdeck analyze --samples``: the file format, the output, exit codes."""

from __future__ import annotations

import asyncio
import json
import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.cli_commands import analyze
from console.core.errors import InvalidInput
from console.core.judge import AnalysisTemplate
from console.core.replay import load_recording, parse_recording, replay

BUCKETS = {"0.05": 2000, "0.1": 2700, "0.25": 2840, "+Inf": 2850}
CANARY_BUCKETS = {"0.05": 100, "0.1": 142, "0.25": 149, "+Inf": 150}


def healthy(errors=1, weight=5):
    return {
        "weight_pct": weight,
        "baseline": {"requests": 2850, "errors": 28, "latency_buckets": dict(BUCKETS)},
        "canary": {"requests": 150, "errors": errors, "latency_buckets": dict(CANARY_BUCKETS)},
    }


def write(tmp_path, document) -> str:
    path = tmp_path / "samples.json"
    path.write_text(json.dumps(document))
    return str(path)


def error_of(tmp_path, document) -> str:
    """The refusal, without the directory part of the path it names."""
    with pytest.raises(InvalidInput) as err:
        load_recording(write(tmp_path, document))
    return str(err.value).removeprefix(f"{tmp_path}/")


def test_result_has_exactly_the_documented_shape(tmp_path):
    result = replay(
        load_recording(write(tmp_path, {"interval_s": 60, "intervals": [healthy()]})),
        AnalysisTemplate(),
    )
    assert set(result) == {"verdict", "decided_at_interval", "decided_at_s", "metrics"}
    assert result["verdict"] == "inconclusive"
    assert result["decided_at_interval"] is None and result["decided_at_s"] is None
    for metric in result["metrics"]:
        assert set(metric) == {"name", "verdict", "explanation"}
        assert metric["verdict"] in {"pass", "fail", "inconclusive", "no_data"}


def test_replay_stops_at_the_first_fail(tmp_path):
    intervals = [healthy(), healthy(errors=40), healthy(errors=40), healthy()]
    result = replay(
        load_recording(write(tmp_path, {"interval_s": 60, "intervals": intervals})),
        AnalysisTemplate(),
    )
    assert result["verdict"] == "fail"
    assert result["decided_at_interval"] == 2
    assert result["decided_at_s"] == 120
    errors = next(m for m in result["metrics"] if m["name"] == "errors")
    assert errors["verdict"] == "fail"
    assert errors["explanation"].startswith("errors FAIL canary")


def test_missing_errors_mean_zero_and_null_arm_means_no_data(tmp_path):
    interval = healthy()
    del interval["canary"]["errors"]
    recording = load_recording(
        write(tmp_path, {"interval_s": 60, "intervals": [interval, {"baseline": None}]})
    )
    assert recording.intervals[0].canary.errors == 0
    assert recording.intervals[1].canary is None and recording.intervals[1].baseline is None
    assert recording.intervals[1].weight_pct is None


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["intervals"][0]["canary"].update(requests=-3),
            "$.intervals[0].canary.requests: expected a non-negative integer",
        ),
        (
            lambda d: d["intervals"][0]["canary"].update(requests="150"),
            "$.intervals[0].canary.requests: expected a non-negative integer",
        ),
        (
            lambda d: d["intervals"][0]["canary"].pop("requests"),
            "$.intervals[0].canary.requests: missing",
        ),
        (
            lambda d: d["intervals"][0]["canary"].update(errors=151),
            "$.intervals[0].canary.errors: 151 errors exceed 150 requests",
        ),
        (
            lambda d: d["intervals"][0].update(weight_pct=150),
            "$.intervals[0].weight_pct: expected a number in [0, 100]",
        ),
        (
            lambda d: d["intervals"][0].update(wieght_pct=5),
            "$.intervals[0].wieght_pct: unknown key",
        ),
        (
            lambda d: d["intervals"][0]["canary"]["latency_buckets"].pop("+Inf"),
            '$.intervals[0].canary.latency_buckets: missing the "+Inf" bucket',
        ),
        (
            lambda d: d["intervals"][0]["canary"]["latency_buckets"].update({"0.1": 50}),
            '$.intervals[0].canary.latency_buckets["0.1"]: cumulative count 50 is below 100',
        ),
        (
            lambda d: d.update(interval_s=0),
            "$.interval_s: expected a number of seconds in (0, 86400]",
        ),
        (lambda d: d.update(intervals=[]), "$.intervals: expected a non-empty list"),
        (lambda d: d["intervals"].append(3), "$.intervals[1]: expected an object"),
    ],
)
def test_malformed_files_name_the_json_path(tmp_path, mutate, expected):
    document = {"interval_s": 60, "intervals": [healthy()]}
    mutate(document)
    message = error_of(tmp_path, document)
    assert message.startswith(f"samples.json: {expected}"), message


def test_invalid_json_is_reported_with_its_position(tmp_path):
    path = tmp_path / "samples.json"
    path.write_text('{"interval_s": 60,, }')
    with pytest.raises(InvalidInput, match=r"samples.json: \$: invalid JSON at line 1 column"):
        load_recording(str(path))


class FakeOut:
    def __init__(self):
        self.documents = []

    def document(self, doc, text):
        self.documents.append((doc, text))


def cli(tmp_path, document, *, config=None, template=None):
    args = types.SimpleNamespace(samples=write(tmp_path, document), service=None, template=template)
    ctx = types.SimpleNamespace(json=True, out=FakeOut(), config_or_none=lambda: config)
    code = asyncio.run(analyze.handle(args, ctx))
    return code, ctx.out.documents[0]


def test_cli_exit_codes_follow_the_verdict(tmp_path):
    fail = {"interval_s": 60, "intervals": [healthy(errors=60)] * 2}
    assert cli(tmp_path, fail)[0] == 1
    inconclusive = {"interval_s": 60, "intervals": [healthy()]}
    assert cli(tmp_path, inconclusive)[0] == 3
    passing = {"interval_s": 60, "intervals": [healthy(errors=20, weight=50)] * 30}
    config = types.SimpleNamespace(
        analysis_templates={"quick": AnalysisTemplate(min_soak_s=60, min_canary_requests=10)}
    )
    for item in passing["intervals"]:
        item["canary"] = dict(item["baseline"])
    code, (doc, text) = cli(tmp_path, passing, config=config, template="quick")
    assert code == 0 and doc["verdict"] == "pass"
    assert text.startswith("PASS at interval")


def test_cli_refuses_an_unknown_template(tmp_path):
    with pytest.raises(InvalidInput, match="no analysis template 'nope'"):
        cli(tmp_path, {"interval_s": 60, "intervals": [healthy()]}, template="nope")


def test_cli_without_config_uses_the_default_template(tmp_path):
    code, (doc, _) = cli(tmp_path, {"interval_s": 60, "intervals": [healthy()]})
    assert code == 3 and doc["verdict"] == "inconclusive"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 10**4)
    | st.floats(allow_nan=False)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["requests", "errors", "latency_buckets", "+Inf", "0.1", "canary", "x"]
            ),
            inner,
            max_size=3,
        )
    ),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(json_values, st.integers(0, 2))
def test_any_json_is_parsed_or_refused_with_a_path(arm, where):
    document = {"interval_s": 60, "intervals": [healthy()]}
    if where == 0:
        document["intervals"][0]["canary"] = arm
    elif where == 1:
        document["intervals"].append(arm)
    else:
        document["intervals"][0]["canary"]["latency_buckets"] = arm
    try:
        recording = parse_recording(document, "samples.json")
    except InvalidInput as err:
        assert str(err).startswith("samples.json: $")
    else:
        replay(recording, AnalysisTemplate())
