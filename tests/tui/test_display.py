"""How the console words things: bars, ages, percentage steps, staleness, toasts, health."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from console.tui.display import (
    Freshness,
    age,
    bar,
    diff_notices,
    health_text,
    next_percent,
    sparkline,
)
from tests.tui.fakes import TARGETS, statuses

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def test_bar_is_fixed_width_with_eighth_blocks():
    assert bar(0, 8) == "░" * 8
    assert bar(100, 8) == "█" * 8
    assert bar(25, 6) == "█▌░░░░"


def test_percentage_steps_go_through_1_5_10_25_50_100():
    up = [0]
    while up[-1] < 100:
        up.append(next_percent(up[-1], +1))
    assert up == [0, 1, 5, 10, 25, 50, 100]
    assert next_percent(30, +1) == 50 and next_percent(30, -1) == 25
    assert next_percent(0, -1) == 0 and next_percent(100, +1) == 100


def test_ages_are_coarse_so_cells_rarely_repaint():
    assert [age(s) for s in (None, 5, 300, 7200, 200000)] == ["-", "just now", "5m", "2h", "2d"]


def test_sparkline_uses_the_scale_it_is_given():
    assert sparkline([0.0, 1.0], 2, 0.0, 1.0) == "▁█"
    assert sparkline([0.5], 1, 0.0, 1.0) in ("▄", "▅")
    assert sparkline([float("nan")], 1, 0.0, 1.0) == " "


def test_freshness_says_live_stale_since_or_unreachable():
    fresh = Freshness("hosts")
    assert fresh.describe(UTC) == "loading…"
    fresh.failed("ssh: timed out")
    assert fresh.describe(UTC) == "unreachable: ssh: timed out"
    fresh.ok(NOW)
    assert fresh.describe(UTC) == "live"
    fresh.failed("ssh: timed out")
    assert fresh.describe(UTC) == "stale since 03:00:00: ssh: timed out"


def test_freshness_is_stale_when_a_source_stops_answering_before_it_times_out():
    fresh = Freshness("hosts")
    fresh.ok(NOW)
    later = NOW + timedelta(seconds=40)
    assert fresh.describe(UTC, later, 30) == "stale since 03:00:00: no answer for 40s"
    assert fresh.is_stale(later, 30)


def test_no_toasts_on_the_first_poll():
    assert diff_notices(None, statuses()) == []


def test_an_automatic_rollback_raises_an_error_toast_with_a_bell():
    before = statuses()
    after = copy.deepcopy(before)
    after[2] = replace(
        after[2],
        in_progress=None,
        last_deploy=replace(after[2].last_deploy, outcome="rolled_back", reason="error_rate 3x"),
    )
    [notice] = diff_notices(before, after)
    assert notice.bell and notice.severity == "error"
    assert notice.title == "web/production" and "error_rate 3x" in notice.message


def test_a_new_verdict_raises_a_toast():
    before = statuses()
    after = copy.deepcopy(before)
    after[2] = replace(
        after[2],
        in_progress=replace(
            after[2].in_progress,
            verdicts=({"name": "error_rate", "verdict": "fail", "explanation": "3x"},),
        ),
    )
    [notice] = diff_notices(before, after)
    assert notice.message == "judge: error_rate fail" and notice.severity == "warning"


def test_a_rollout_started_elsewhere_raises_a_toast():
    before = statuses()
    after = copy.deepcopy(before)
    after[0] = replace(
        after[0], in_progress=replace(after[2].in_progress, id=300, operator="bob@cli")
    )
    [notice] = diff_notices(before, after)
    assert notice.title == "api/production" and "started by bob@cli" in notice.message


def test_health_counts_hosts_up_and_down():
    web_production = statuses()[2]
    assert health_text(web_production, TARGETS[2]) == "1/2 up · 1 down"
    web_production = replace(web_production, mixed_versions=True)
    assert health_text(web_production, TARGETS[2]).startswith("MIXED")
