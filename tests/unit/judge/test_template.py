"""Analysis templates: defaults, and one-line errors naming the key."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.core.errors import InvalidInput
from console.core.judge.template import ACCEPTED_KEYS, AnalysisTemplate

SOURCE = "shipdeck.toml: [analysis.default]"


def test_defaults_are_the_documented_ones():
    t = AnalysisTemplate()
    assert (t.error_ratio_fail, t.error_ratio_pass) == (1.2, 1.5)
    assert (t.alpha_fail, t.alpha_pass) == (0.05, 0.05)
    assert t.errors_alpha_fail == pytest.approx(0.025)
    assert t.latency_alpha_fail == pytest.approx(0.025 / 3)
    assert t.latency_quantiles == (0.5, 0.99, 0.999)


def test_without_latency_the_errors_get_the_whole_fail_budget():
    assert AnalysisTemplate(latency_quantiles=()).errors_alpha_fail == 0.05


def test_an_empty_table_gives_the_defaults():
    assert AnalysisTemplate.from_mapping({}, SOURCE) == AnalysisTemplate()


def test_valid_values_are_taken():
    t = AnalysisTemplate.from_mapping(
        {
            "alpha_fail": 0.01,
            "min_soak_s": 120,
            "latency_quantiles": [0.5, 0.9, 0.99],
            "bounds": {"checkouts": {"kind": "per_request", "max_drop_pct": 10}},
        },
        SOURCE,
    )
    assert t.alpha_fail == 0.01 and t.min_soak_s == 120
    assert t.latency_quantiles == (0.5, 0.9, 0.99)
    assert t.bounds[0].min_ratio == pytest.approx(0.9)


def test_unknown_key_is_refused_naming_it():
    with pytest.raises(InvalidInput) as err:
        AnalysisTemplate.from_mapping({"alpha_fial": 0.01}, SOURCE)
    assert str(err.value).startswith(f"{SOURCE}: alpha_fial: unknown key")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("alpha_fail", 0.9),
        ("alpha_pass", "0.05"),
        ("error_ratio_fail", 0),
        ("min_canary_requests", -1),
        ("min_canary_requests", True),
        ("latency_quantiles", [0.99, 0.5]),
        ("dispersion_guard", "yes"),
    ],
)
def test_bad_values_are_refused_with_one_line_naming_the_key(key, value):
    with pytest.raises(InvalidInput) as err:
        AnalysisTemplate.from_mapping({key: value}, SOURCE)
    message = str(err.value)
    assert message.startswith(f"{SOURCE}: {key}: ")
    assert "\n" not in message


def test_bound_needs_a_limit():
    with pytest.raises(InvalidInput, match="bounds.cpu: needs max_ratio"):
        AnalysisTemplate.from_mapping({"bounds": {"cpu": {"kind": "gauge"}}}, SOURCE)


def test_every_field_is_an_accepted_key():
    assert set(ACCEPTED_KEYS) == set(AnalysisTemplate.__dataclass_fields__)


toml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*ACCEPTED_KEYS, "bogus"]), toml_values, max_size=5))
def test_any_table_loads_or_is_refused_with_invalid_input(table):
    try:
        template = AnalysisTemplate.from_mapping(table, SOURCE)
    except InvalidInput as err:
        assert str(err).startswith(SOURCE)
    else:
        assert isinstance(template, AnalysisTemplate)


def test_a_400_digit_interval_is_one_line_not_an_overflow():
    with pytest.raises(InvalidInput, match="interval_s"):
        AnalysisTemplate.from_mapping({"interval_s": int("9" * 400)}, "analysis.huge")
