"""Fuzzing the config loader: any input gives a model or ConfigInvalid, never a traceback."""

from __future__ import annotations

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.core.config import parse_config
from console.core.errors import ConfigInvalid
from tests.unit.foundation.test_config_validation import GOOD

scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
keys = st.one_of(
    st.sampled_from(
        [
            "hosts",
            "services",
            "load_balancers",
            "metrics",
            "analysis",
            "web",
            "web-1",
            "edge",
            "image",
            "address",
            "listen",
            "preview_listen",
            "base_port",
            "kind",
            "canary_steps",
            "weight",
            "pause",
            "environments",
            "production",
            "smoke",
            "path",
            "env",
            "keymap",
            "flags_path",
        ]
    ),
    st.text(min_size=1, max_size=12),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=25,
)


def _load(text: str) -> None:
    try:
        parse_config(text, "fuzz.toml")
    except ConfigInvalid as error:
        assert error.errors and all("\n" not in line for line in error.errors)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys, documents, max_size=6))
def test_any_toml_document_loads_or_fails_cleanly(document):
    _load(tomli_w.dumps(document))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_loads_or_fails_cleanly(text):
    _load(text)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(GOOD)), st.text(max_size=20))
def test_mutated_valid_config_loads_or_fails_cleanly(position, insertion):
    _load(GOOD[:position] + insertion + GOOD[position:])
