"""Nothing from config is pasted raw into an LB file: any state that passes
validation renders to a file with exactly the structure of a plain reference
state (same lines, same tokens per line, same braces, semicolons, quotes), and
any value carrying a character that could break out is refused."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engines.errors import InvalidTargetInput
from engines.lb import Backend, TrafficState
from engines.lb.haproxy import render_haproxy
from engines.lb.nginx import render_nginx

STRUCTURAL = "{};\"'#$%\\`"
BREAKOUT = ["\n", "\r", "{", "}", ";", '"', "'", " ", "\t", "$", "%", "#", "\\", "\0"]


labels = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,8}[A-Za-z0-9])?", fullmatch=True)
VALID = {
    "name": st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True),
    "release": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,20}", fullmatch=True),
    "address": st.one_of(
        st.ip_addresses(v=4).map(str), st.lists(labels, min_size=1, max_size=3).map(".".join)
    ),
    "port": st.integers(1, 65535),
    "color": st.sampled_from(["blue", "green"]),
}
HOSTILE = {
    "name": st.text(max_size=12),
    "release": st.text(max_size=12),
    "address": st.text(max_size=20),
    "port": st.one_of(st.integers(), st.text(max_size=6), st.booleans()),
    "color": st.text(max_size=5),
}


@st.composite
def weights_summing_to_100(draw: st.DrawFn, count: int) -> list[int]:
    cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=count - 1, max_size=count - 1)))
    bounds = [0, *cuts, 100]
    return [bounds[i + 1] - bounds[i] for i in range(count)]


@st.composite
def states(draw: st.DrawFn, hostile: bool) -> TrafficState:
    """Valid values only, or with each field hostile one time in four."""

    def value(kind: str) -> object:
        if hostile and draw(st.integers(0, 3)) == 0:
            return draw(HOSTILE[kind])
        return draw(VALID[kind])

    count = draw(st.integers(1, 3))
    weights = draw(weights_summing_to_100(count))
    backends = tuple(
        Backend(
            name=value("name"),  # type: ignore[arg-type]
            address=value("address"),  # type: ignore[arg-type]
            port=value("port"),  # type: ignore[arg-type]
            release=value("release"),  # type: ignore[arg-type]
            color=value("color"),  # type: ignore[arg-type]
            weight_pct=weights[i],
            track=draw(st.sampled_from(["", "canary", "baseline"])),
        )
        for i in range(count)
    )
    return TrafficState(
        service=value("name"),  # type: ignore[arg-type]
        listen_address=draw(st.ip_addresses(v=4).map(str)) if not hostile else value("address"),  # type: ignore[arg-type]
        listen_port=value("port"),  # type: ignore[arg-type]
        preview_port=value("port"),  # type: ignore[arg-type]
        backends=backends,
        preview_color=draw(st.sampled_from([None, "blue", "green"])),
    )


def plain_twin(state: TrafficState) -> TrafficState:
    """The same shape with boring values everywhere a user value goes."""
    is_ip = [b.address.replace(".", "").isdigit() for b in state.backends]
    return TrafficState(
        service="svc",
        listen_address="10.9.9.9",
        listen_port=state.listen_port,
        preview_port=state.preview_port,
        backends=tuple(
            Backend(
                name=f"b{i}",
                address=f"10.0.0.{i + 1}" if is_ip[i] else f"h{i}.example",
                port=b.port,
                release=f"r{i}",
                color=b.color,
                weight_pct=b.weight_pct,
                track=b.track,
            )
            for i, b in enumerate(state.backends)
        ),
        preview_color=state.preview_color,
    )


def skeleton(text: str) -> list[tuple[int, tuple[int, ...]]]:
    """Per line after the state line: token count and structural characters."""
    return [
        (len(line.split()), tuple(line.count(c) for c in STRUCTURAL))
        for line in text.splitlines()[1:]
    ]


def render_both(state: TrafficState) -> tuple[str, str] | None:
    """Both renderings, or None if validation refused the state."""
    try:
        state.validate()
        return render_nginx(state), render_haproxy(state, "/healthz")
    except InvalidTargetInput:
        return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states(hostile=False))
def test_a_valid_state_renders_with_the_structure_of_its_plain_twin(state: TrafficState) -> None:
    rendered = render_both(state)
    event("refused" if rendered is None else "rendered")
    if rendered is None:  # duplicate names/endpoints, equal ports: refusal is correct
        return
    twin = render_both(plain_twin(state))
    assert twin is not None

    assert skeleton(rendered[0]) == skeleton(twin[0])
    assert skeleton(rendered[1]) == skeleton(twin[1])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states(hostile=True))
def test_hostile_input_is_refused_or_renders_with_the_plain_structure(
    state: TrafficState,
) -> None:
    rendered = render_both(state)
    event("refused" if rendered is None else "rendered")
    if rendered is None:
        return  # nothing reached a file
    twin = render_both(plain_twin(state))
    assert twin is not None

    assert skeleton(rendered[0]) == skeleton(twin[0])
    assert skeleton(rendered[1]) == skeleton(twin[1])


def valid_backend(**overrides: object) -> Backend:
    values: dict[str, object] = {
        "name": "web-1-blue",
        "address": "10.0.0.5",
        "port": 8001,
        "release": "v1.2",
        "color": "blue",
        "weight_pct": 100,
    }
    values.update(overrides)
    return Backend(**values)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    field=st.sampled_from(["name", "address", "release"]),
    char=st.sampled_from(BREAKOUT),
    at=st.integers(0, 4),
)
def test_a_value_carrying_a_breakout_character_is_refused(field: str, char: str, at: int) -> None:
    value = str(getattr(valid_backend(), field))
    tainted = value[:at] + char + value[at:]
    state = TrafficState("web", "127.0.0.1", 8080, 8081, (valid_backend(**{field: tainted}),))

    with pytest.raises(InvalidTargetInput):
        state.validate()


@pytest.mark.parametrize("port", ["8001", "8001x", 8001.0, True, 0, 65536, None])
def test_a_port_that_is_not_an_integer_in_range_is_refused(port: object) -> None:
    state = TrafficState("web", "127.0.0.1", 8080, 8081, (valid_backend(port=port),))

    with pytest.raises(InvalidTargetInput):
        state.validate()


@pytest.mark.parametrize("service", ["Web", "web_1", "-web", "web;", "a" * 64, "web\n"])
def test_a_service_name_outside_the_safe_alphabet_is_refused(service: str) -> None:
    state = TrafficState(service, "127.0.0.1", 8080, 8081, (valid_backend(),))

    with pytest.raises(InvalidTargetInput):
        state.validate()
