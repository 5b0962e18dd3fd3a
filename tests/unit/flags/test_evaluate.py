"""Evaluation semantics: reasons, targeting, rules, environments, overrides, never raising."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from console.core.errors import InvalidInput
from console.flags import (
    DEFAULT,
    DISABLED,
    ERROR,
    FLAG_NOT_FOUND,
    SPLIT,
    STATIC,
    TARGETING_MATCH,
    FlagFile,
    bucket,
)
from console.flags.model import Flag, FlagSet, Rule
from console.flags.store import render


def make_flag(key: str = "f", percent: int = 100, env: str = "production", **fields) -> Flag:
    flag = Flag(key=key, owner="team", type="release", created=date(2026, 1, 1))
    return replace(flag, **fields).with_env(env, enabled=True, percent=percent)


def load(tmp_path: Path, *flags: Flag, environment: str = "production", environ=None) -> FlagFile:
    path = tmp_path / "flags.toml"
    path.write_text(render(FlagSet({f.key: f for f in flags})))
    return FlagFile(path, environment, watch=False, environ=environ or {})


def user_in(key: str, percent: int) -> str:
    return next(u for u in (f"u{i}" for i in range(1000)) if bucket(key, u) <= percent)


def user_out(key: str, percent: int) -> str:
    return next(u for u in (f"u{i}" for i in range(1000)) if bucket(key, u) > percent)


def test_unknown_flag_is_the_default_with_reason_error_and_flag_not_found(tmp_path):
    flags = load(tmp_path, make_flag())
    result = flags.evaluate("missing", {"user_id": "u1"}, default=True)
    assert (result.value, result.reason, result.error_code) == (True, ERROR, FLAG_NOT_FOUND)
    assert flags.enabled("missing", user_id="u1") is False


def test_killed_flag_is_disabled_not_an_error(tmp_path):
    flags = load(tmp_path, make_flag(enabled=False))
    result = flags.evaluate("f", {"user_id": "u1"})
    assert (result.value, result.reason, result.error_code) == (False, DISABLED, None)


def test_flag_off_in_this_environment_is_disabled(tmp_path):
    flags = load(tmp_path, make_flag(env="staging"))
    assert flags.evaluate("f", {"user_id": "u1"}).reason == DISABLED
    assert flags.enabled("f", user_id="u1") is False


def test_each_environment_evaluates_its_own_state(tmp_path):
    flag = make_flag(env="staging", percent=100)
    assert load(tmp_path, flag, environment="staging").enabled("f", "u1") is True
    assert load(tmp_path, flag, environment="production").enabled("f", "u1") is False


def test_fully_on_flag_is_static_true(tmp_path):
    result = load(tmp_path, make_flag(percent=100)).evaluate("f", {"user_id": "u1"})
    assert (result.value, result.reason, result.variant) == (True, STATIC, "on")


def test_percentage_rollout_is_a_split_with_the_bucket(tmp_path):
    flags = load(tmp_path, make_flag("f", percent=30))
    inside, outside = user_in("f", 30), user_out("f", 30)
    yes, no = flags.evaluate("f", {"user_id": inside}), flags.evaluate("f", {"user_id": outside})
    assert (yes.value, yes.reason, yes.variant, yes.bucket) == (
        True,
        SPLIT,
        "on",
        bucket("f", inside),
    )
    assert (no.value, no.reason, no.variant) == (False, SPLIT, "off")


def test_zero_percent_did_not_match_is_default(tmp_path):
    result = load(tmp_path, make_flag(percent=0)).evaluate("f", {"user_id": "u1"})
    assert (result.value, result.reason) == (False, DEFAULT)


def test_split_without_a_user_id_is_default_off(tmp_path):
    flags = load(tmp_path, make_flag(percent=50))
    assert flags.evaluate("f", {}).reason == DEFAULT
    assert flags.enabled("f") is False


def test_allow_list_turns_a_user_on_outside_the_percentage(tmp_path):
    outside = user_out("f", 10)
    flags = load(tmp_path, make_flag(percent=10, allow=(outside,)))
    result = flags.evaluate("f", {"user_id": outside})
    assert (result.value, result.reason) == (True, TARGETING_MATCH)
    assert flags.enabled("f", user_id=outside) is True


def test_deny_list_beats_allow_list_and_full_rollout(tmp_path):
    flags = load(tmp_path, make_flag(percent=100, allow=("bob",), deny=("bob",)))
    result = flags.evaluate("f", {"user_id": "bob"})
    assert (result.value, result.reason) == (False, TARGETING_MATCH)


def test_allow_list_does_not_override_the_kill_switch(tmp_path):
    flags = load(tmp_path, make_flag(enabled=False, allow=("bob",)))
    assert flags.evaluate("f", {"user_id": "bob"}).reason == DISABLED


def test_equals_rule_gates_the_rollout(tmp_path):
    flags = load(tmp_path, make_flag(rules=(Rule("country", "equals", ("DE",)),)))
    hit = flags.evaluate("f", {"user_id": "u1", "country": "DE"})
    miss = flags.evaluate("f", {"user_id": "u1", "country": "FR"})
    assert (hit.value, hit.reason) == (True, TARGETING_MATCH)
    assert (miss.value, miss.reason) == (False, DEFAULT)


def test_in_rule_matches_any_listed_value_and_compares_as_strings(tmp_path):
    flags = load(tmp_path, make_flag(rules=(Rule("tier", "in", ("2", "3")),)))
    assert flags.enabled("f", "u1", {"tier": 3}) is True
    assert flags.enabled("f", "u1", {"tier": 1}) is False


def test_missing_rule_attribute_does_not_match(tmp_path):
    flags = load(tmp_path, make_flag(rules=(Rule("country", "equals", ("DE",)),)))
    assert flags.evaluate("f", {"user_id": "u1"}).reason == DEFAULT


@pytest.mark.parametrize(
    ("op", "target", "version", "expected"),
    [
        ("semver_gte", "2.3.0", "2.3.0", True),
        ("semver_gte", "2.3.0", "2.10.0", True),
        ("semver_gte", "2.3.0", "2.3.0-rc.1", False),
        ("semver_gt", "2.3.0-rc.1", "2.3.0-rc.2", True),
        ("semver_gt", "2.3.0-alpha", "2.3.0-alpha.1", True),
        ("semver_lt", "1.0.0", "1.0.0-beta.11", True),
        ("semver_lt", "1.0.0-beta.2", "1.0.0-beta.11", False),
        ("semver_lte", "3.0.0", "v3.0.0", True),
        ("semver_eq", "3.0.0", "3.0.0+build.7", True),
        ("semver_gte", "2.3.0", "not-a-version", False),
    ],
)
def test_semver_rules_follow_semver_precedence(tmp_path, op, target, version, expected):
    flags = load(tmp_path, make_flag(rules=(Rule("app_version", op, (target,)),)))
    assert flags.enabled("f", "u1", {"app_version": version}) is expected


def test_rules_then_percentage_give_a_split_among_matching_users(tmp_path):
    rule = Rule("country", "equals", ("DE",))
    flags = load(tmp_path, make_flag("f", percent=40, rules=(rule,)))
    inside = user_in("f", 40)
    result = flags.evaluate("f", {"user_id": inside, "country": "DE"})
    assert (result.value, result.reason) == (True, SPLIT)


def test_custom_stickiness_buckets_on_that_attribute(tmp_path):
    flags = load(tmp_path, make_flag("f", percent=30, stickiness="account_id"))
    inside, outside = user_in("f", 30), user_out("f", 30)
    assert flags.enabled("f", "whoever", {"account_id": inside}) is True
    assert flags.enabled("f", "whoever", {"account_id": outside}) is False


def test_evaluation_never_raises_even_for_a_hostile_user_id(tmp_path):
    class Hostile:
        def __str__(self) -> str:
            raise RuntimeError("boom")

        __format__ = None  # type: ignore[assignment]

    flags = load(tmp_path, make_flag(percent=50), make_flag("g", percent=100, allow=("x",)))
    assert flags.enabled("f", user_id=Hostile()) is False
    result = flags.evaluate("g", {"user_id": Hostile()})
    assert result.reason == ERROR and result.error_code == "GENERAL"


def test_explain_names_the_bucket_and_the_comparison(tmp_path):
    flags = load(tmp_path, make_flag("f", percent=30))
    user = user_out("f", 30)
    trace = str(flags.explain("f", user_id=user))
    assert f"murmur3('f:{user}') % 100 + 1 = {bucket('f', user)}" in trace
    assert "> 30% → out" in trace and "SPLIT" in trace


def test_explain_of_an_unknown_flag_says_so(tmp_path):
    explanation = load(tmp_path, make_flag()).explain("nope", user_id="u1")
    assert explanation.evaluation.error_code == FLAG_NOT_FOUND
    assert "no flag 'nope'" in str(explanation)


def test_unknown_environment_is_refused_at_construction(tmp_path):
    with pytest.raises(InvalidInput, match="unknown environment 'prod'"):
        FlagFile(tmp_path / "flags.toml", "prod", watch=False)


# -- SHIPDECK_FLAG_<KEY> overrides -----------------------------------------------------------


def test_override_on_turns_a_disabled_flag_fully_on(tmp_path):
    flag = make_flag("new-checkout", percent=0, enabled=False)
    flags = load(tmp_path, flag, environ={"SHIPDECK_FLAG_NEW_CHECKOUT": "on"})
    assert flags.enabled("new-checkout", user_id="u1") is True
    assert flags.overrides["new-checkout"].raw == "on"


def test_override_off_disables_a_fully_on_flag(tmp_path):
    flags = load(tmp_path, make_flag("dark-mode"), environ={"SHIPDECK_FLAG_DARK_MODE": "off"})
    result = flags.evaluate("dark-mode", {"user_id": "u1"})
    assert (result.value, result.reason) == (False, DISABLED)


def test_override_percentage_replaces_the_rollout(tmp_path):
    key = "search.v2"
    flags = load(tmp_path, make_flag(key, percent=100), environ={"SHIPDECK_FLAG_SEARCH_V2": "20"})
    assert flags.enabled(key, user_id=user_in(key, 20)) is True
    assert flags.enabled(key, user_id=user_out(key, 20)) is False


def test_invalid_override_is_ignored_and_reported(tmp_path):
    flags = load(tmp_path, make_flag("f"), environ={"SHIPDECK_FLAG_F": "maybe"})
    assert flags.enabled("f", user_id="u1") is True
    assert flags.overrides["f"].error is not None


def test_override_alone_defines_a_flag_when_there_is_no_file(tmp_path):
    flags = FlagFile(
        tmp_path / "absent.toml", watch=False, environ={"SHIPDECK_FLAG_DARK_MODE": "on"}
    )
    assert flags.last_error is not None
    assert flags.enabled("dark-mode", user_id="u1") is True
    assert flags.evaluate("dark-mode", {"user_id": "u1"}).value is True
    assert flags.evaluate("other", {}).error_code == FLAG_NOT_FOUND


def test_override_is_shown_in_the_trace(tmp_path):
    flags = load(tmp_path, make_flag("f"), environ={"SHIPDECK_FLAG_F": "off"})
    assert "SHIPDECK_FLAG_F=off" in str(flags.explain("f", user_id="u1"))


def test_user_id_may_come_from_the_context_instead_of_the_keyword(tmp_path):
    flags = load(tmp_path, make_flag("f", percent=30))
    inside, outside = user_in("f", 30), user_out("f", 30)
    assert flags.enabled("f", context={"user_id": inside}) is True
    assert flags.enabled("f", context={"user_id": outside}) is False
