"""Fixed data and recording operations for driving the console in tests and snapshots."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from console.core.clock import Clock
from console.core.status import (
    ContainerView,
    DrillView,
    HostProbeView,
    HostView,
    LastDeploy,
    LockView,
    RolloutProgress,
    ServiceStatus,
)
from console.core.store import Outcome
from console.tui.data import (
    CanaryView,
    FlagChangeView,
    FlagDetail,
    FlagRow,
    HistoryRow,
    MetricView,
    ReleaseChoice,
    Target,
    TimelineEvent,
)
from console.tui.ops import Listener, OpResult

NOW = datetime(2026, 11, 30, 3, 0, 0, tzinfo=UTC)
CANARY_STEPS = (
    "weight 5%",
    "analysis default for 600s",
    "weight 25%",
    "analysis default for 600s",
    "weight 100%",
)

TARGETS = [
    Target("api", "production", False, "blue-green", (), ("api-1",)),
    Target("web", "staging", False, "canary", CANARY_STEPS, ("web-1",)),
    Target("web", "production", True, "canary", CANARY_STEPS, ("web-1", "web-2")),
]


def container(service: str, release: str, color: str, n: int, track: str = "") -> ContainerView:
    return ContainerView(
        name=f"{service}-{color}{'-' + track if track else ''}-{n}",
        service=service,
        release=release,
        color=color,
        track=track,
        state="running",
        health="healthy",
    )


def hosts_view() -> dict[str, HostProbeView]:
    return {
        "api-1": HostProbeView(
            reachable=True,
            error=None,
            docker_version="27.3.1",
            containers=(container("api", "v7", "blue", 1), container("api", "v6", "green", 1)),
        ),
        "web-1": HostProbeView(
            reachable=True,
            error=None,
            docker_version="27.3.1",
            containers=(
                container("web", "v42", "blue", 1),
                container("web", "v41", "green", 1),
                container("web", "v43", "green", 1, "canary"),
            ),
        ),
        "web-2": HostProbeView(
            reachable=False,
            error="web-2: ssh: connection timed out after 10s",
            docker_version=None,
            containers=(),
        ),
    }


def _host_doc(
    view: HostProbeView, service: str, color: str, running: tuple[str, ...] | None = None
) -> HostView:
    live = [c for c in view.containers if c.service == service and c.color == color and not c.track]
    return HostView(
        reachable=view.reachable,
        error=view.error,
        running=running if running is not None else tuple(sorted({c.release for c in live})),
        containers=tuple(c for c in view.containers if c.service == service),
    )


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def statuses() -> list[ServiceStatus]:
    view = hosts_view()
    return [
        ServiceStatus(
            service="api",
            environment="production",
            live_release="v7",
            live_image="registry/api@sha256:aaa",
            live_color="blue",
            standby_release="v6",
            standby_color="green",
            canary_release=None,
            canary_weight_pct=0,
            in_progress=None,
            lock=None,
            last_deploy=LastDeploy(
                id=240,
                kind="deploy",
                outcome=Outcome.SUCCEEDED,
                reason=None,
                finished_at=_at("2026-11-30T01:00:00Z"),
                age_s=7200.0,
            ),
            hosts={"api-1": _host_doc(view["api-1"], "api", "blue")},
            drill=DrillView(last_success_at=None, age_days=None, warning=None),
        ),
        ServiceStatus(
            service="web",
            environment="staging",
            live_release="v43",
            live_image="registry/web@sha256:bbb",
            live_color="green",
            standby_release=None,
            standby_color=None,
            canary_release=None,
            canary_weight_pct=0,
            in_progress=None,
            lock=None,
            last_deploy=LastDeploy(
                id=245,
                kind="deploy",
                outcome=Outcome.SUCCEEDED,
                reason=None,
                finished_at=_at("2026-11-30T02:00:00Z"),
                age_s=3600.0,
            ),
            hosts={"web-1": _host_doc(view["web-1"], "web", "green", running=("v43",))},
            drill=DrillView(
                last_success_at=None,
                age_days=None,
                warning="never drilled: run shipdeck drill web",
            ),
        ),
        ServiceStatus(
            service="web",
            environment="production",
            live_release="v42",
            live_image="registry/web@sha256:ccc",
            live_color="blue",
            standby_release="v41",
            standby_color="green",
            canary_release="v43",
            canary_weight_pct=25,
            in_progress=RolloutProgress(
                id=250,
                kind="deploy",
                strategy="canary",
                step="analysis default",
                operator="ann@laptop",
                started_at=_at("2026-11-30T02:40:00Z"),
                weight_pct=25,
                step_index=3,
                step_ends_at="2026-11-30T03:04:10Z",
                verdicts=({"name": "error_rate", "verdict": "pass", "explanation": "ok"},),
                interrupted=False,
                heartbeat_age_s=1.0,
            ),
            lock=LockView(
                holder="ann@laptop",
                since=_at("2026-11-30T02:40:00Z"),
                reason="canary v43 to production",
                stale=False,
                text="locked by ann@laptop since 2026-11-30T02:40:00Z: canary v43 to production",
            ),
            last_deploy=LastDeploy(
                id=250,
                kind="deploy",
                outcome=Outcome.IN_PROGRESS,
                reason=None,
                finished_at=None,
                age_s=1200.0,
            ),
            hosts={
                "web-1": _host_doc(view["web-1"], "web", "blue"),
                "web-2": _host_doc(view["web-2"], "web", "blue"),
            },
            drill=DrillView(last_success_at=None, age_days=None, warning=None),
        ),
    ]


def history_rows(count: int = 250) -> list[HistoryRow]:
    rows = []
    operators = ("ann@laptop", "bob@ops", "ci@runner")
    outcomes = ("succeeded", "succeeded", "rolled_back", "succeeded", "failed")
    for i in range(count, 0, -1):
        service = "web" if i % 3 else "api"
        rows.append(
            HistoryRow(
                id=i,
                started_at=NOW - timedelta(minutes=10 * (count - i) + 5),
                service=service,
                environment="production" if i % 2 else "staging",
                from_release=f"v{i % 40 + 1}",
                to_release=f"v{i % 40 + 2}",
                strategy="canary" if i % 4 == 0 else "blue-green",
                kind="deploy" if i % 7 else "rollback",
                operator=operators[i % 3],
                outcome="in_progress" if i == count else outcomes[i % 5],
                duration_s=None if i == count else 40.0 + i % 60,
                reason="error_rate 3.1x baseline" if outcomes[i % 5] == "rolled_back" else None,
            )
        )
    return rows


def canary_view(**changes: Any) -> CanaryView:
    series = [0.010 + 0.001 * (i % 4) for i in range(30)]
    bad = [0.011 + 0.002 * i for i in range(30)]
    view = CanaryView(
        deployment_id=250,
        service="web",
        environment="production",
        from_release="v42",
        to_release="v43",
        outcome="in_progress",
        operator="ann@laptop",
        started_at=NOW - timedelta(minutes=20),
        steps=CANARY_STEPS,
        step_index=3,
        weight_pct=25,
        step_ends_at=NOW + timedelta(seconds=250),
        overall="inconclusive",
        metrics=(
            MetricView(
                "error_rate",
                "fail",
                "3.1x baseline (credible)",
                0.071,
                0.023,
                tuple(bad),
                tuple(series),
            ),
            MetricView(
                "p50_latency_ms", "pass", "within 5%", 41.0, 40.0, (40.0, 41.0), (40.0, 40.0)
            ),
            MetricView(
                "p95_latency_ms", "pass", "within 8%", 120.0, 112.0, (118.0, 120.0), (110.0, 112.0)
            ),
            MetricView(
                "p99_latency_ms",
                "inconclusive",
                "too few slow requests",
                310.0,
                260.0,
                (300.0, 310.0),
                (250.0, 260.0),
            ),
            MetricView("cpu", "pass", "", 0.42, 0.40, (0.4, 0.42), (0.4, 0.4)),
            MetricView("memory_mb", "pass", "", 512.0, 498.0, (500.0, 512.0), (498.0, 498.0)),
            MetricView("saturation", "pass", "", 0.31, 0.30, (0.3, 0.31), (0.3, 0.3)),
            MetricView(
                "checkout_rate",
                "pass",
                "business metric steady",
                12.1,
                12.4,
                (12.0, 12.1),
                (12.4, 12.4),
            ),
        ),
    )
    return replace(view, **changes)


def flag_rows() -> list[FlagRow]:
    return [
        FlagRow(
            key="beta-reports",
            type="permission",
            stage="test",
            killed=False,
            environments={"staging": (True, 100), "production": (True, 25)},
            owner="analytics",
            age_days=20,
        ),
        FlagRow(
            key="dark-mode",
            type="release",
            stage="complete",
            killed=False,
            environments={"staging": (True, 100), "production": (True, 100)},
            owner="web-ui",
            age_days=60,
            stale=(
                ("FULLY_ON", "at 100% in production since 2026-11-12 (18 days > 14)"),
                ("PAST_CLEANUP_BY", "past its cleanup_by date 2026-10-31 by 30 days"),
            ),
        ),
        FlagRow(
            key="new-checkout",
            type="experiment",
            stage="rollout",
            killed=False,
            environments={"staging": (True, 50), "production": (False, 10)},
            owner="payments",
            age_days=5,
        ),
        FlagRow(
            key="payments-kill",
            type="kill-switch",
            stage="complete",
            killed=True,
            environments={"staging": (False, 0), "production": (False, 0)},
            owner="payments",
            age_days=300,
        ),
    ]


@dataclass
class FakeConsoleData:
    """``ConsoleData`` with fixed answers; tests change the fields to simulate the world."""

    clock: Clock = field(default_factory=lambda: Clock(frozen_at=NOW))
    target_list: list[Target] = field(default_factory=lambda: list(TARGETS))
    status_list: list[ServiceStatus] = field(default_factory=statuses)
    host_answer: dict[str, HostProbeView] = field(default_factory=hosts_view)
    history: list[HistoryRow] = field(default_factory=history_rows)
    canary_answer: CanaryView | None = field(default_factory=canary_view)
    flag_list: list[FlagRow] = field(default_factory=flag_rows)
    releases_answer: list[ReleaseChoice] = field(default_factory=list)
    overview_error: Exception | None = None
    hosts_error: Exception | None = None
    hosts_hang: bool = False
    logs_answer: str | Exception = "GET /healthz 200\nGET / 200\n"
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.releases_answer:
            self.releases_answer = [
                ReleaseChoice(
                    "v42",
                    "registry/web@sha256:ccc",
                    NOW,
                    True,
                    "blue",
                    True,
                    baseline=True,
                    live=True,
                ),
                ReleaseChoice(
                    "v41", "registry/web@sha256:bbb", NOW - timedelta(hours=2), True, "green", True
                ),
                ReleaseChoice(
                    "v40", "registry/web@sha256:aaa", NOW - timedelta(days=2), False, None, True
                ),
            ]

    def targets(self) -> list[Target]:
        return list(self.target_list)

    def overview(self, hosts_view: Any) -> list[ServiceStatus]:
        self.calls.append(("overview", ()))
        if self.overview_error is not None:
            raise self.overview_error
        return copy.deepcopy(self.status_list)  # like the store: a fresh answer every poll

    async def hosts(self) -> dict[str, HostProbeView]:
        self.calls.append(("hosts", ()))
        if self.hosts_hang:
            await asyncio.sleep(3600)
        if self.hosts_error is not None:
            raise self.hosts_error
        return dict(self.host_answer)

    async def container_logs(self, host: str, container: str) -> str:
        self.calls.append(("logs", (host, container)))
        if isinstance(self.logs_answer, Exception):
            raise self.logs_answer
        return self.logs_answer

    def history_page(
        self, filter_text: str | None, before_id: int | None, limit: int, service: str | None = None
    ) -> list[HistoryRow]:
        self.calls.append(("history_page", (filter_text, before_id, limit, service)))
        text = (filter_text or "").lower()
        rows = [
            r
            for r in self.history
            if (before_id is None or r.id < before_id)
            and (service is None or r.service == service)
            and (
                not text
                or any(
                    text in (v or "").lower() for v in (r.service, r.operator, r.outcome, r.reason)
                )
            )
        ]
        return sorted(rows, key=lambda r: r.id, reverse=True)[:limit]

    def events(
        self, deployment_id: int, after_id: int = 0, limit: int = 500
    ) -> list[TimelineEvent]:
        self.calls.append(("events", (deployment_id, after_id)))
        events = [
            TimelineEvent(
                1,
                NOW - timedelta(minutes=3),
                "deploy_started",
                f"deployment #{deployment_id} started",
            ),
            TimelineEvent(2, NOW - timedelta(minutes=2), "healthy", "v43 healthy on green"),
            TimelineEvent(
                3, NOW - timedelta(minutes=1), "traffic", "LB edge: blue 75% / green 25%"
            ),
        ]
        return [e for e in events if e.id > after_id][:limit]

    def canary(self, target: tuple[str, str] | None) -> CanaryView | None:
        self.calls.append(("canary", (target,)))
        view = self.canary_answer
        if view is None or (target and (view.service, view.environment) != target):
            return None
        return view

    def releases(self, service: str, environment: str) -> list[ReleaseChoice]:
        self.calls.append(("releases", (service, environment)))
        return list(self.releases_answer)

    def flags(self) -> list[FlagRow]:
        self.calls.append(("flags", ()))
        return list(self.flag_list)

    def flag_references(self) -> dict[str, int]:
        return {"beta-reports": 3, "dark-mode": 7, "new-checkout": 2, "payments-kill": 1}

    def flag_detail(self, key: str) -> FlagDetail:
        row = next(r for r in self.flag_list if r.key == key)
        return FlagDetail(
            row,
            (("owner", row.owner), ("type", row.type), ("stage", row.stage)),
            (
                FlagChangeView(
                    NOW - timedelta(days=1), "bob@ops", "production", "production_percent 10 → 25"
                ),
            ),
        )


@dataclass
class FakeRollout:
    """A detached deploy that runs until the test finishes it."""

    description: str
    command: str
    log_path: Path | None = None
    code: int | None = None

    def poll(self) -> int | None:
        return self.code


@dataclass
class FakeOps:
    """Records every operation; answers with ``result`` (or raises ``error``)."""

    operator: str = "me@console"
    result: OpResult = field(default_factory=lambda: OpResult(True, "done"))
    error: Exception | None = None
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    rollouts: list[FakeRollout] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)
    block: Any = None  # a threading.Event the operation waits for

    def add_listener(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def _record(self, name: str, *args: Any) -> OpResult:
        self.calls.append((name, args))
        if self.block is not None:
            self.block.wait(5)
        if self.error is not None:
            raise self.error
        return self.result

    def rollback(self, service: str, environment: str, to: str) -> OpResult:
        return self._record("rollback", service, environment, to)

    def promote(self, service: str, environment: str) -> OpResult:
        return self._record("promote", service, environment)

    def abort(self, service: str, environment: str) -> OpResult:
        return self._record("abort", service, environment)

    def start_deploy(
        self, service: str, environment: str, image: str, strategy: str
    ) -> FakeRollout:
        self.calls.append(("start_deploy", (service, environment, image, strategy)))
        rollout = FakeRollout(
            f"{service}/{environment}: deploy {image} ({strategy})", "shipdeck deploy"
        )
        self.rollouts.append(rollout)
        return rollout

    def lock(self, service: str, reason: str) -> OpResult:
        return self._record("lock", service, reason)

    def unlock(self, service: str, force: bool) -> OpResult:
        return self._record("unlock", service, force)

    def set_flag_enabled(self, key: str, environment: str, enabled: bool) -> OpResult:
        return self._record("set_flag_enabled", key, environment, enabled)

    def set_flag_percent(self, key: str, environment: str, percent: int) -> OpResult:
        return self._record("set_flag_percent", key, environment, percent)

    def kill_flag(self, key: str) -> OpResult:
        return self._record("kill_flag", key)
