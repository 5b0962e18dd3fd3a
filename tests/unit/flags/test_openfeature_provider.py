"""OpenFeature provider conformance: values, reasons, variants, errors and events via the SDK."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEvent
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason
from openfeature.provider import ProviderStatus

from console.flags import FlagFile, bucket
from console.flags.model import Flag, FlagSet, Rule
from console.flags.openfeature_provider import ShipdeckProvider
from console.flags.store import render


def flag(key: str, percent: int = 100, **fields) -> Flag:
    base = Flag(key=key, owner="team", type="release", created=date(2026, 1, 1))
    return replace(base, **fields).with_env("production", enabled=True, percent=percent)


FLAGS = [
    flag("on-for-all"),
    flag("killed", enabled=False),
    flag("split", percent=30),
    flag("by-country", rules=(Rule("country", "equals", ("DE",)),)),
    flag("vip", percent=0, allow=("alice",)),
]


def write(path: Path, flags: list[Flag]) -> None:
    temp = path.with_suffix(".tmp")
    temp.write_text(render(FlagSet({f.key: f for f in flags})))
    temp.replace(path)


@pytest.fixture
def client(tmp_path):
    write(tmp_path / "flags.toml", FLAGS)
    flags = FlagFile(tmp_path / "flags.toml", "production", poll_interval_s=0.05)
    provider = ShipdeckProvider(flags)
    api.set_provider_and_wait(provider, domain="shipdeck-test")
    yield api.get_client("shipdeck-test")
    api.clear_providers()
    flags.close()


def user(key: str, inside: bool) -> str:
    return next(u for u in (f"u{i}" for i in range(1000)) if (bucket(key, u) <= 30) == inside)


def test_provider_is_ready_after_initialisation(client):
    assert client.get_provider_status() == ProviderStatus.READY
    assert client.provider.get_metadata().name == "shipdeck"


def test_fully_on_flag_resolves_true_static(client):
    details = client.get_boolean_details("on-for-all", False, EvaluationContext("u1"))
    assert (details.value, details.reason, details.variant) == (True, Reason.STATIC, "on")


def test_killed_flag_resolves_false_disabled(client):
    details = client.get_boolean_details("killed", True, EvaluationContext("u1"))
    assert (details.value, details.reason, details.error_code) == (False, Reason.DISABLED, None)


def test_targeting_key_is_the_user_id_for_the_split(client):
    inside = client.get_boolean_details("split", False, EvaluationContext(user("split", True)))
    outside = client.get_boolean_details("split", True, EvaluationContext(user("split", False)))
    assert (inside.value, inside.reason, inside.variant) == (True, Reason.SPLIT, "on")
    assert (outside.value, outside.reason, outside.variant) == (False, Reason.SPLIT, "off")
    assert inside.flag_metadata["bucket"] <= 30 < outside.flag_metadata["bucket"]


def test_attributes_drive_rules(client):
    de = EvaluationContext("u1", {"country": "DE"})
    fr = EvaluationContext("u1", {"country": "FR"})
    assert client.get_boolean_details("by-country", False, de).reason == Reason.TARGETING_MATCH
    no_match = client.get_boolean_details("by-country", True, fr)
    assert (no_match.value, no_match.reason) == (False, Reason.DEFAULT)


def test_allow_list_is_a_targeting_match(client):
    details = client.get_boolean_details("vip", False, EvaluationContext("alice"))
    assert (details.value, details.reason) == (True, Reason.TARGETING_MATCH)


def test_unknown_flag_returns_the_default_with_flag_not_found(client):
    details = client.get_boolean_details("nope", True, EvaluationContext("u1"))
    assert (details.value, details.reason, details.error_code) == (
        True,
        Reason.ERROR,
        ErrorCode.FLAG_NOT_FOUND,
    )


def test_non_boolean_resolution_is_a_type_mismatch_with_the_default(client):
    details = client.get_string_details("on-for-all", "fallback")
    assert (details.value, details.error_code) == ("fallback", ErrorCode.TYPE_MISMATCH)
    assert client.get_integer_value("on-for-all", 7) == 7
    assert client.get_string_details("nope", "x").error_code == ErrorCode.FLAG_NOT_FOUND


def test_values_agree_with_flag_file_evaluate(client, tmp_path):
    flags = FlagFile(tmp_path / "flags.toml", "production", watch=False)
    for key in ["on-for-all", "killed", "split", "by-country", "vip", "nope"]:
        for uid in ["alice", "u1", "u2", "u3"]:
            ours = flags.evaluate(key, {"user_id": uid})
            theirs = client.get_boolean_details(key, False, EvaluationContext(uid))
            assert (theirs.value, str(theirs.reason)) == (ours.value, ours.reason)


def test_a_file_change_emits_configuration_changed_with_the_changed_flags(client, tmp_path):
    changed = threading.Event()
    seen: list[list[str] | None] = []

    def on_change(details) -> None:
        seen.append(details.flags_changed)
        changed.set()

    client.add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, on_change)
    write(tmp_path / "flags.toml", [*FLAGS[:1], flag("killed", enabled=True), *FLAGS[2:]])
    assert changed.wait(5)
    assert seen[-1] == ["killed"]
    assert client.get_boolean_value("killed", False, EvaluationContext("u1")) is True


def test_a_broken_file_emits_an_error_and_keeps_serving_the_last_good_flags(client, tmp_path):
    errored = threading.Event()
    client.add_handler(ProviderEvent.PROVIDER_ERROR, lambda details: errored.set())
    (tmp_path / "flags.toml").write_text("[flags.broken\n")
    assert errored.wait(5)
    assert client.get_provider_status() == ProviderStatus.ERROR
    assert client.get_boolean_value("on-for-all", False, EvaluationContext("u1")) is True


def test_a_provider_whose_file_never_loaded_fails_initialisation_and_is_in_error(tmp_path):
    from openfeature.exception import GeneralError

    provider = ShipdeckProvider(tmp_path / "absent.toml")
    try:
        with pytest.raises(GeneralError) as error:
            api.set_provider_and_wait(provider, domain="shipdeck-absent")
        assert "flags file not found" in (error.value.error_message or "")
        client = api.get_client("shipdeck-absent")
        assert client.get_provider_status() == ProviderStatus.ERROR
        details = client.get_boolean_details("anything", True)
        assert (details.value, details.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)
    finally:
        api.clear_providers()
