"""Lifecycle: new flags get an owner and a cleanup date; stale flags are found, with reasons."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from console.core.errors import InvalidInput
from console.flags import find_stale, new_flag
from console.flags.lifecycle import (
    FULLY_ON,
    PAST_CLEANUP_BY,
    PAST_EXPECTED_LIFETIME,
    cleanup_ticket_text,
)
from console.flags.model import FlagSet, Rule

CREATED = date(2026, 3, 1)
FLIPPED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def fully_on(flag_type: str = "release", **fields):
    flag = new_flag("f", owner="team", flag_type=flag_type, created=CREATED)
    flag = replace(flag, cleanup_by=None, **fields)
    return flag.with_env("production", enabled=True, percent=100, changed_at=FLIPPED_AT)


def codes(flag, now: datetime) -> list[str]:
    return [finding.code for finding in find_stale(FlagSet({flag.key: flag}), now)]


def test_release_flag_cleanup_by_defaults_to_created_plus_30_days():
    flag = new_flag("f", owner="team", flag_type="release", created=CREATED)
    assert flag.cleanup_by == date(2026, 3, 31)


def test_kill_switches_get_no_cleanup_date():
    assert new_flag("f", owner="t", flag_type="kill-switch", created=CREATED).cleanup_by is None


def test_creating_a_flag_requires_an_owner():
    with pytest.raises(InvalidInput, match="an owner is required"):
        new_flag("f", owner="  ", flag_type="release", created=CREATED)


def test_the_cleanup_ticket_names_the_flag_owner_and_date():
    text = cleanup_ticket_text(
        new_flag("f", owner="payments", flag_type="release", created=CREATED)
    )
    assert "Remove feature flag f" in text and "payments" in text and "2026-03-31" in text


def test_fully_on_for_14_days_is_not_yet_stale():
    assert codes(fully_on(), FLIPPED_AT + timedelta(days=14)) == []


def test_fully_on_for_15_days_is_stale_with_the_date_it_went_fully_on():
    (finding,) = find_stale(FlagSet({"f": fully_on()}), FLIPPED_AT + timedelta(days=15))
    assert finding.code == FULLY_ON
    assert "since 2026-03-02 (15 days > 14)" in finding.message


def test_at_99_percent_is_not_fully_on():
    flag = fully_on().with_env("production", percent=99, changed_at=FLIPPED_AT)
    assert codes(flag, FLIPPED_AT + timedelta(days=20)) == []


def test_fully_on_in_staging_only_does_not_count():
    flag = new_flag("f", owner="t", flag_type="release", created=CREATED)
    flag = replace(flag, cleanup_by=None).with_env(
        "staging", enabled=True, percent=100, changed_at=FLIPPED_AT
    )
    assert codes(flag, FLIPPED_AT + timedelta(days=20)) == []


def test_a_killed_flag_is_not_fully_on():
    assert codes(fully_on(enabled=False), FLIPPED_AT + timedelta(days=20)) == []


def test_a_flag_still_gated_by_rules_is_not_fully_on():
    flag = fully_on(rules=(Rule("country", "equals", ("DE",)),))
    assert codes(flag, FLIPPED_AT + timedelta(days=20)) == []


@pytest.mark.parametrize("flag_type", ["kill-switch", "permission", "operational"])
def test_long_lived_flag_types_are_never_stale_for_being_fully_on(flag_type):
    assert codes(fully_on(flag_type), FLIPPED_AT + timedelta(days=400)) == []


def test_past_cleanup_by_is_stale_the_day_after():
    flag = new_flag("f", owner="t", flag_type="operational", created=CREATED)
    flag = replace(flag, cleanup_by=date(2026, 3, 10))
    assert codes(flag, datetime(2026, 3, 10, 23, 59, tzinfo=UTC)) == []
    (finding,) = find_stale(FlagSet({"f": flag}), datetime(2026, 3, 11, tzinfo=UTC))
    assert finding.code == PAST_CLEANUP_BY and "by 1 days" in finding.message


def test_release_flag_older_than_40_days_is_past_its_expected_lifetime():
    flag = replace(
        new_flag("f", owner="t", flag_type="experiment", created=CREATED), cleanup_by=None
    )
    assert codes(flag, datetime(2026, 4, 10, tzinfo=UTC)) == []
    assert codes(flag, datetime(2026, 4, 11, tzinfo=UTC)) == [PAST_EXPECTED_LIFETIME]


def test_every_reason_is_listed_for_a_flag_that_is_stale_three_ways():
    flag = replace(fully_on(), cleanup_by=date(2026, 3, 31))
    assert codes(flag, datetime(2026, 6, 1, tzinfo=UTC)) == [
        FULLY_ON,
        PAST_CLEANUP_BY,
        PAST_EXPECTED_LIFETIME,
    ]
