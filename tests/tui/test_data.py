"""``StoreConsoleData``: what the console reads from a real state store and flags file."""

from __future__ import annotations

import asyncio
import hashlib
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from console.core.clock import Clock
from console.core.config import load_config
from console.core.status import HostProbeView
from console.core.store import TrafficRecord, open_store
from console.tui.data import StoreConsoleData

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)

CONFIG = """\
flags_path = "flags.toml"
state_path = "state.db"

[hosts.web-1]
address = "ssh://deploy@127.0.0.1:1"
known_hosts = "/nonexistent/known_hosts"
connect_timeout_s = 1

[load_balancers.edge]
kind = "nginx"

[services.web]
image = "127.0.0.1:5000/web"
hosts = ["web-1"]
load_balancer = "edge"
listen = "127.0.0.1:8080"
preview_listen = "127.0.0.1:8081"
base_port = 18080
strategy = "canary"

[services.web.environments.production]
protected = true
"""

FLAGS = """\
version = 1

[flags.old-banner]
created = 2020-01-01
owner = "web"
type = "release"
cleanup_by = 2020-02-01
production_enabled = true
production_percent = 100
production_changed_at = 2020-01-02 00:00:00+00:00

[flags.new-checkout]
created = 2026-11-25
owner = "payments"
type = "experiment"
production_enabled = true
production_percent = 10
"""


@pytest.fixture
def console(tmp_path: Path) -> StoreConsoleData:
    (tmp_path / "shipdeck.toml").write_text(CONFIG)
    (tmp_path / "flags.toml").write_text(FLAGS)
    (tmp_path / "app.py").write_text('if flags.enabled("new-checkout"):\n    pass\n')
    config = load_config(tmp_path / "shipdeck.toml")
    store = open_store(config.state_path)
    return StoreConsoleData(config, store, Clock(frozen_at=NOW), refs_root=tmp_path)


def release(console: StoreConsoleData, tag: str, *, live_hours_ago: float | None = None):
    store = console.store
    digest = hashlib.sha256(tag.encode()).hexdigest()
    made = store.record_release(
        "web", "production", f"127.0.0.1:5000/web@sha256:{digest}", tag, NOW
    )
    if live_hours_ago is not None:
        store.mark_release(made.id, NOW - timedelta(hours=live_hours_ago), live=True, healthy=True)
    return store.release(made.id)


def test_targets_come_from_config_with_protection_and_steps(console):
    [target] = console.targets()
    assert (target.key, target.protected, target.strategy) == ("web/production", True, "canary")
    assert target.steps[0] == "weight 5%" and target.hosts == ("web-1",)


def test_history_pages_newest_first_by_keyset(console):
    ids = [
        console.store.start_deployment(
            "web", "production", "blue-green", "deploy", None, None, f"op{i}", NOW
        )
        for i in range(5)
    ]
    first = console.history_page(None, None, 2)
    second = console.history_page(None, first[-1].id, 2)
    assert [r.id for r in first + second] == sorted(ids, reverse=True)[:4]


def test_history_filter_matches_operator(console):
    for operator in ("ann", "bob", "ann"):
        console.store.start_deployment(
            "web", "production", "canary", "deploy", None, None, operator, NOW
        )
    assert {r.operator for r in console.history_page("bob", None, 10)} == {"bob"}


def test_history_rows_name_releases(console):
    v1, v2 = release(console, "v1"), release(console, "v2")
    console.store.start_deployment(
        "web", "production", "canary", "deploy", v1.id, v2.id, "ann", NOW
    )
    [row] = console.history_page(None, None, 10)
    assert (row.from_release, row.to_release, row.outcome) == ("v1", "v2", "in_progress")


def start_canary(console: StoreConsoleData) -> int:
    state = {
        "steps": ["weight 5%", "analysis default for 600s", "weight 100%"],
        "step_index": 1,
        "weight_pct": 5,
        "step_ends_at": "2026-11-30T03:05:00Z",
        "verdicts": [{"name": "error_rate", "verdict": "pass", "explanation": "ratio 1.01"}],
    }
    return console.store.start_deployment(
        "web", "production", "canary", "deploy", None, None, "ann", NOW, state
    )


def analysis(console: StoreConsoleData, deployment_id: int, canary: float, baseline: float) -> None:
    console.store.add_event(
        deployment_id,
        "analysis",
        "look",
        NOW,
        {
            "metrics": [{"name": "error_rate", "verdict": "pass", "explanation": "ratio 1.01"}],
            "samples": {"error_rate": {"canary": canary, "baseline": baseline}},
        },
    )


def test_canary_view_joins_persisted_state_and_analysis_events(console):
    deployment_id = start_canary(console)
    analysis(console, deployment_id, 0.02, 0.01)
    analysis(console, deployment_id, 0.03, 0.01)
    view = console.canary(("web", "production"))
    assert (view.step_index, view.weight_pct, view.steps[1]) == (1, 5, "analysis default for 600s")
    assert view.step_ends_at == datetime(2026, 11, 30, 3, 5, tzinfo=UTC)
    [metric] = view.metrics
    assert (metric.name, metric.verdict, metric.canary, metric.baseline) == (
        "error_rate",
        "pass",
        0.03,
        0.01,
    )
    assert metric.canary_series == (0.02, 0.03) and metric.ratio == pytest.approx(3.0)


def test_canary_view_reads_only_new_events_on_each_poll(console):
    deployment_id = start_canary(console)
    analysis(console, deployment_id, 0.02, 0.01)
    console.canary(("web", "production"))
    analysis(console, deployment_id, 0.04, 0.01)
    view = console.canary(("web", "production"))
    assert view.metrics[0].canary_series == (0.02, 0.04)


def test_canary_view_accepts_samples_that_are_display_strings(console):
    deployment_id = start_canary(console)
    console.store.add_event(
        deployment_id,
        "analysis",
        "look",
        NOW,
        {"samples": {"p99": {"canary": "310 ms", "baseline": "250 ms"}}},
    )
    view = console.canary(None)
    p99 = next(m for m in view.metrics if m.name == "p99")
    assert (p99.canary, p99.baseline, p99.ratio) == ("310 ms", "250 ms", None)
    assert math.isnan(p99.canary_series[0])  # a gap in the chart, not a made-up zero


def test_no_canary_is_none(console):
    assert console.canary(("web", "production")) is None


def test_releases_are_offered_known_good_first_with_warm_marked(console):
    release(console, "v1", live_hours_ago=48)
    v2 = release(console, "v2", live_hours_ago=2)
    v3 = release(console, "v3", live_hours_ago=0)
    release(console, "v4")  # never live
    console.store.set_traffic(
        TrafficRecord("web", "production", "blue", v3.id, v2.id, None, 0, NOW)
    )
    choices = console.releases("web", "production")
    assert [c.name for c in choices] == ["v2", "v4", "v1"]
    assert choices[0].warm and choices[0].color == "green" and choices[0].known_good
    assert not choices[1].known_good and not choices[2].warm


def test_during_a_canary_the_live_baseline_comes_first(console):
    v1 = release(console, "v1", live_hours_ago=1)
    v2 = release(console, "v2")
    console.store.set_traffic(
        TrafficRecord("web", "production", "blue", v1.id, v2.id, v2.id, 25, NOW)
    )
    choices = console.releases("web", "production")
    assert choices[0].name == "v1" and choices[0].baseline


def test_overview_uses_the_last_host_probe_and_never_probes_itself(console):
    view = {"web-1": HostProbeView(reachable=False, error="ssh: timed out")}
    [status] = console.overview(view)
    assert status.hosts["web-1"].error == "ssh: timed out"


def test_hosts_of_an_unreachable_fleet_say_why(console):
    view = asyncio.run(console.hosts())
    assert view["web-1"].reachable is False
    assert "known_hosts" in str(view["web-1"].error)


def test_flags_rows_carry_state_stale_reasons_and_age(console):
    rows = {r.key: r for r in console.flags()}
    assert rows["new-checkout"].state("production") == (True, 10)
    assert rows["new-checkout"].age_days == 5 and not rows["new-checkout"].stale
    assert {code for code, _ in rows["old-banner"].stale} == {
        "FULLY_ON",
        "PAST_CLEANUP_BY",
        "PAST_EXPECTED_LIFETIME",
    }


def test_flag_references_are_counted_in_the_tree(console):
    assert console.flag_references() == {"new-checkout": 1, "old-banner": 0}


def test_flag_detail_includes_the_audit_history(console):
    console.store.record_flag_change(
        "new-checkout",
        "production",
        "bob",
        {"production_percent": 5},
        {"production_percent": 10},
        NOW,
    )
    detail = console.flag_detail("new-checkout")
    assert ("owner", "payments") in detail.fields
    [change] = detail.changes
    assert (change.operator, change.summary) == ("bob", "production_percent 5 → 10")


def test_events_of_a_deployment_in_order(console):
    deployment_id = start_canary(console)
    for message in ("one", "two"):
        console.store.add_event(deployment_id, "step", message, NOW)
    assert [e.message for e in console.events(deployment_id)] == ["one", "two"]
