"""Fuzzing the config loader: any input gives a model or ConfigInvalid, never a traceback."""

from __future__ import annotations

import contextlib
import copy
import io
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.cli import main
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


# ------------------------------------------------------------------ the real CLI

# Where each key of the schema lives in GOOD; hostile values are planted there.
TABLES = {
    "": ["lock_lease_s", "flags_path", "state_path"],
    "hosts.web-1": [
        "address",
        "docker_socket",
        "known_hosts",
        "identity_file",
        "publish_address",
        "connect_timeout_s",
    ],
    "metrics": ["prometheus_url", "scrape_interval_s", "query_timeout_s"],
    "analysis.default": [
        "interval_s",
        "alpha_fail",
        "min_soak_s",
        "min_canary_requests",
        "traffic_window_intervals",
        "latency_quantiles",
    ],
    "services.web": [
        "image",
        "container_port",
        "health_path",
        "health_timeout_s",
        "post_deploy_verify",
        "max_error_rate",
        "releases_to_keep",
        "drill_max_age_days",
        "schema_label",
        "listen",
        "preview_listen",
        "base_port",
        "webhooks",
    ],
    "services.web.smoke[0]": ["path", "status", "contains"],
    "services.web.canary_steps[1]": ["duration"],
    "services.web.canary_steps[2]": ["pause", "weight"],
}
PLACES = [(table, key) for table, keys in TABLES.items() for key in keys]
BASE = tomllib.loads(
    GOOD
    + '[[services.web.smoke]]\npath = "/healthz"\n'
    + "[[services.web.canary_steps]]\nweight = 10\n"
    + '[[services.web.canary_steps]]\nanalysis = "default"\nduration = "1m"\n'
    + '[[services.web.canary_steps]]\npause = "1m"\n'
    + "[[services.web.canary_steps]]\nweight = 100\n"
)
hostile_scalars = st.one_of(
    st.floats(),  # nan and ±inf included
    st.integers(min_value=-(10**400), max_value=10**400),
    st.integers(min_value=-1, max_value=70000),
    st.text(st.characters(codec="utf-8"), max_size=24),  # control characters included
    st.sampled_from(
        [
            "/h?x=1",
            "[::1]:8080",
            "localhost:8080",
            "example.com",
            "",
            "   ",
            "inf",
            "nan",
            "9" * 400 + "s",
            "127.0.0.1:" + "9" * 5000,
            "ssh://Root@host:22",
            "https://hooks.example.com/x\n",
            "/a\r\nX: y",
        ]
    ),
)
hostile_values = st.one_of(
    hostile_scalars,
    st.lists(hostile_scalars, max_size=3),
    st.dictionaries(st.text(max_size=6), hostile_scalars, max_size=3),
)
# Text tomli_w cannot produce: past int()'s 4300-digit limit, past the parser's recursion.
raw_lines = st.sampled_from(
    [
        "x = " + "9" * 5000,
        "x = " + "[" * 3000 + "]" * 3000,
        "x = " + "{ a = " * 600 + "1" + " }" * 600,
        r'x = "\u0000\u001b[2J"',
        "\u0000",
    ]
)


def _plant(document: dict[str, Any], table: str, key: str, value: Any) -> dict[str, Any]:
    planted = copy.deepcopy(document)
    node: Any = planted
    for part in table.split(".") if table else []:
        name, _, index = part.partition("[")
        node = node.setdefault(name, {})
        if index:
            node = node[int(index.rstrip("]"))]
    node[key] = value
    return planted


def _check_via_cli(data: bytes, json_mode: bool) -> int:
    """``shipdeck config check`` in-process: exit 0 or 2, no traceback, file untouched."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "shipdeck.toml"
        path.write_bytes(data)
        out, err = io.StringIO(), io.StringIO()
        argv = ["config", "check", "--config", str(path), *(["--json"] if json_mode else [])]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
        assert code in (0, 2), (code, err.getvalue())
        assert "Traceback" not in err.getvalue() and "Traceback" not in out.getvalue()
        assert path.read_bytes() == data
        assert sorted(p.name for p in Path(directory).iterdir()) == ["shipdeck.toml"]
        if code == 2:
            assert all(line.startswith("shipdeck: error: ") for line in err.getvalue().splitlines())
        return code


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.sampled_from(PLACES), hostile_values), min_size=1, max_size=3),
    st.booleans(),
)
def test_config_check_on_hostile_values_exits_0_or_2_and_changes_nothing(plants, json_mode):
    document = BASE
    for (table, key), value in plants:
        document = _plant(document, table, key, value)
    _check_via_cli(tomli_w.dumps(document).encode(), json_mode)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_lines, st.integers(min_value=0, max_value=GOOD.count("\n")))
def test_config_check_on_text_no_toml_writer_makes_exits_2_and_changes_nothing(line, position):
    lines = GOOD.splitlines()
    lines.insert(position, line)
    assert _check_via_cli("\n".join(lines).encode(), json_mode=False) == 2
