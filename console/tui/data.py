"""What the console shows, read from ``console.core``: Textual-free so it is unit-tested.

The screens never touch the store, the fleet or the flags file: they call a
``ConsoleData`` (this module's ``StoreConsoleData`` in production, a fake with
fixed data in tests and snapshots). Sync methods are called from thread
workers; the two async ones (``hosts``, ``container_logs``) talk to hosts and
carry their own timeouts, because a hung host must never hang the console.

Everything here is read-only and display logic only: formatting, ordering,
deciding what changed since the last poll. Decisions about production stay in
``console.core``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from console.core.clock import Clock, parse_iso
from console.core.config import Config
from console.core.status import HostProbeView, HostsView, ServiceStatus, service_statuses
from console.core.store import Deployment, Outcome, StateStore

SERIES_LIMIT = 240


# -- records the screens display ---------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One service in one environment: what the console selects and acts on."""

    service: str
    environment: str
    protected: bool = False
    strategy: str = "blue-green"
    steps: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.service}/{self.environment}"

    @property
    def label(self) -> str:
        return f"{self.service} {self.environment}"


@dataclass(frozen=True)
class ReleaseChoice:
    """A retained release offered by the rollback picker."""

    name: str
    image_ref: str
    last_live_at: datetime | None
    warm: bool
    color: str | None
    known_good: bool
    baseline: bool = False  # the live baseline during a canary: rolling back aborts the canary
    live: bool = False


@dataclass(frozen=True)
class HistoryRow:
    """One deployment as the History table shows it."""

    id: int
    started_at: datetime
    service: str
    environment: str
    from_release: str | None
    to_release: str | None
    strategy: str
    kind: str
    operator: str
    outcome: Outcome
    duration_s: float | None
    reason: str | None = None


@dataclass(frozen=True)
class TimelineEvent:
    """One event of a deployment's timeline."""

    id: int
    ts: datetime
    kind: str
    message: str


@dataclass(frozen=True)
class MetricView:
    """One analysis metric: canary beside baseline, the judge's word, and the series."""

    name: str
    verdict: str
    explanation: str
    canary: float | str | None = None
    baseline: float | str | None = None
    canary_series: tuple[float, ...] = ()
    baseline_series: tuple[float, ...] = ()

    @property
    def ratio(self) -> float | None:
        """canary / baseline, when both are numbers and the baseline is not zero."""
        if not isinstance(self.canary, int | float) or not isinstance(self.baseline, int | float):
            return None
        if self.baseline == 0:
            return None
        return float(self.canary) / float(self.baseline)


@dataclass(frozen=True)
class CanaryView:
    """The running (or last) canary of a service: steps, weight and the judge's view."""

    deployment_id: int
    service: str
    environment: str
    from_release: str | None
    to_release: str | None
    outcome: Outcome
    operator: str
    started_at: datetime
    steps: tuple[str, ...]
    step_index: int
    weight_pct: int
    step_ends_at: datetime | None
    overall: str | None
    metrics: tuple[MetricView, ...]
    reason: str | None = None
    step: str | None = None

    @property
    def running(self) -> bool:
        return self.outcome == Outcome.IN_PROGRESS


@dataclass(frozen=True)
class FlagRow:
    """One flag as the Flags table shows it."""

    key: str
    type: str
    stage: str
    killed: bool
    environments: Mapping[str, tuple[bool, int]]
    owner: str
    age_days: int
    stale: tuple[tuple[str, str], ...] = ()
    refs: int | None = None
    description: str = ""

    def state(self, environment: str) -> tuple[bool, int]:
        return self.environments.get(environment, (False, 0))


@dataclass(frozen=True)
class FlagChangeView:
    """One audited change of a flag."""

    at: datetime
    operator: str
    environment: str | None
    summary: str


@dataclass(frozen=True)
class FlagDetail:
    """Everything about one flag, and who changed it when."""

    row: FlagRow
    fields: tuple[tuple[str, str], ...]
    changes: tuple[FlagChangeView, ...]


# -- the data source ----------------------------------------------------------------------------


class ConsoleData(Protocol):
    """Everything the screens read. Sync methods run in thread workers."""

    clock: Clock

    def targets(self) -> list[Target]: ...

    def overview(self, hosts_view: HostsView) -> list[ServiceStatus]: ...

    async def hosts(self) -> dict[str, HostProbeView]: ...

    async def container_logs(self, host: str, container: str) -> str: ...

    def history_page(
        self,
        filter_text: str | None,
        before_id: int | None,
        limit: int,
        service: str | None = None,
    ) -> list[HistoryRow]: ...

    def events(
        self, deployment_id: int, after_id: int = 0, limit: int = 500
    ) -> list[TimelineEvent]: ...

    def canary(self, target: tuple[str, str] | None) -> CanaryView | None: ...

    def releases(self, service: str, environment: str) -> list[ReleaseChoice]: ...

    def flags(self) -> list[FlagRow]: ...

    def flag_references(self) -> dict[str, int]: ...

    def flag_detail(self, key: str) -> FlagDetail: ...


class StoreConsoleData:
    """``ConsoleData`` over the real config, state store, fleet and flags file."""

    def __init__(
        self,
        config: Config,
        store: StateStore,
        clock: Clock,
        *,
        hosts_timeout_s: float = 20.0,
        logs_timeout_s: float = 10.0,
        refs_root: Path | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.hosts_timeout_s = hosts_timeout_s
        self.logs_timeout_s = logs_timeout_s
        self.refs_root = refs_root
        self._release_names: dict[int, str | None] = {}
        self._series: dict[int, _SeriesCache] = {}

    # -- services -------------------------------------------------------------------------

    def targets(self) -> list[Target]:
        return [
            Target(
                service=name,
                environment=env.name,
                protected=env.protected,
                strategy=svc.strategy,
                steps=tuple(step.describe() for step in svc.canary_steps),
                hosts=env.hosts,
            )
            for name, svc in sorted(self.config.services.items())
            for env in svc.environments.values()
        ]

    def overview(self, hosts_view: HostsView) -> list[ServiceStatus]:
        """The core status view; hosts come from the last probe (never probed inline)."""

        async def cached(names: list[str]) -> dict[str, HostProbeView]:
            return {n: hosts_view[n] for n in names if n in hosts_view}

        return asyncio.run(service_statuses(self.config, self.store, self.clock, probe=cached))

    async def hosts(self) -> dict[str, HostProbeView]:
        from console.core.fleet import probe_hosts_factory

        names = sorted(self.config.hosts)
        probe = probe_hosts_factory(self.config)
        try:
            return dict(await asyncio.wait_for(probe(names), self.hosts_timeout_s))
        except TimeoutError:
            raise TimeoutError(f"host probe timed out after {self.hosts_timeout_s:g}s") from None

    async def container_logs(self, host: str, container: str) -> str:
        from console.core.fleet import Fleet, as_shipdeck_error

        fleet = Fleet(self.config)
        try:
            return await asyncio.wait_for(
                fleet.host(host).logs(container, tail_lines=200), self.logs_timeout_s
            )
        except TimeoutError:
            raise TimeoutError(f"logs timed out after {self.logs_timeout_s:g}s") from None
        except Exception as error:  # engine errors: one line naming the host
            raise as_shipdeck_error(error) from None
        finally:
            await fleet.close()

    # -- history --------------------------------------------------------------------------

    def _release_name(self, release_id: int | None) -> str | None:
        if release_id is None:
            return None
        if release_id not in self._release_names:
            release = self.store.release(release_id)
            self._release_names[release_id] = release.name if release else None
        return self._release_names[release_id]

    def history_row(self, deployment: Deployment) -> HistoryRow:
        return HistoryRow(
            id=deployment.id,
            started_at=deployment.started_at,
            service=deployment.service,
            environment=deployment.environment,
            from_release=self._release_name(deployment.from_release),
            to_release=self._release_name(deployment.to_release),
            strategy=deployment.strategy,
            kind=deployment.kind,
            operator=deployment.operator,
            outcome=deployment.outcome,
            duration_s=deployment.duration_s,
            reason=deployment.reason,
        )

    def history_page(
        self,
        filter_text: str | None,
        before_id: int | None,
        limit: int,
        service: str | None = None,
    ) -> list[HistoryRow]:
        rows = self.store.history(
            service, limit=limit, before_id=before_id, text=(filter_text or "").strip() or None
        )
        return [self.history_row(d) for d in rows]

    def events(
        self, deployment_id: int, after_id: int = 0, limit: int = 500
    ) -> list[TimelineEvent]:
        return [
            TimelineEvent(e.id, e.ts, e.kind, e.message)
            for e in self.store.events(deployment_id, after_id=after_id, limit=limit)
        ]

    # -- canary ---------------------------------------------------------------------------

    def _canary_deployment(self, target: tuple[str, str] | None) -> Deployment | None:
        service, environment = target if target else (None, None)
        running = [
            d for d in self.store.in_progress(service, environment) if d.strategy == "canary"
        ]
        if running:
            return running[-1]
        for deployment in self.store.history(service, limit=200):
            if deployment.strategy == "canary" and (
                environment is None or deployment.environment == environment
            ):
                return deployment
        return None

    def canary(self, target: tuple[str, str] | None) -> CanaryView | None:
        deployment = self._canary_deployment(target)
        if deployment is None:
            return None
        cache = self._series.setdefault(deployment.id, _SeriesCache())
        while True:
            page = self.store.events(deployment.id, after_id=cache.after_id, limit=500)
            for event in page:
                cache.after_id = event.id
                if event.kind == "analysis":
                    cache.add(event.data)
            if len(page) < 500:
                break
        return canary_view(
            deployment,
            cache,
            self._release_name(deployment.from_release),
            self._release_name(deployment.to_release),
        )

    # -- releases (rollback picker) -------------------------------------------------------

    def releases(self, service: str, environment: str) -> list[ReleaseChoice]:
        svc = self.config.service(service)
        traffic = self.store.traffic(service, environment)
        rows = self.store.releases(service, environment, limit=max(svc.releases_to_keep * 4, 20))
        live_color = traffic.live_color if traffic else None
        live_id = traffic.release_of(live_color) if traffic and live_color else None
        color_of: dict[int, str] = {}
        if traffic:
            for color in ("blue", "green"):
                rid = traffic.release_of(color)
                if rid is not None:
                    color_of[rid] = color
        in_canary = bool(traffic and traffic.canary_release)
        return order_releases(
            [
                ReleaseChoice(
                    name=r.name,
                    image_ref=r.image_ref,
                    last_live_at=r.last_live_at,
                    warm=r.id in color_of and r.id != live_id,
                    color=color_of.get(r.id),
                    known_good=r.last_live_at is not None and r.last_healthy_at is not None,
                    baseline=in_canary and r.id == live_id,
                    live=r.id == live_id,
                )
                for r in rows
            ]
        )

    # -- flags ----------------------------------------------------------------------------

    @property
    def flags_path(self) -> Path:
        return Path(self.config.flags_path)

    def _flag_set(self) -> Any:
        from console.flags.store import FlagStore

        return FlagStore(self.flags_path).load()

    def flags(self) -> list[FlagRow]:
        from console.flags.lifecycle import find_stale

        flags = self._flag_set()
        now = self.clock.now()
        stale: dict[str, list[tuple[str, str]]] = {}
        for finding in find_stale(flags, now):
            stale.setdefault(finding.key, []).append((finding.code, finding.message))
        return [flag_row(flag, now, tuple(stale.get(flag.key, ()))) for flag in flags]

    def flag_references(self) -> dict[str, int]:
        from console.flags.refs import scan_references

        flags = self._flag_set()
        root = self.refs_root or Path.cwd()
        found = scan_references(root, flags.flags.keys(), exclude=[self.flags_path])
        return {key: len(refs) for key, refs in found.items()}

    def flag_detail(self, key: str) -> FlagDetail:
        from console.flags.lifecycle import find_stale

        flags = self._flag_set()
        flag = flags.require(key)
        now = self.clock.now()
        stale = tuple((f.code, f.message) for f in find_stale(flags, now) if f.key == key)
        changes = tuple(
            FlagChangeView(c.at, c.operator, c.environment, describe_flag_change(c.old, c.new))
            for c in self.store.flag_changes(key, limit=50)
        )
        return FlagDetail(flag_row(flag, now, stale), flag_fields(flag), changes)


# -- pure helpers (display logic) -------------------------------------------------------------


@dataclass
class _SeriesCache:
    """Analysis samples of one deployment read so far: each poll reads only new events."""

    after_id: int = 0
    canary: dict[str, list[float]] = field(default_factory=dict)
    baseline: dict[str, list[float]] = field(default_factory=dict)
    latest: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    overall: str | None = None

    def add(self, data: Mapping[str, Any]) -> None:
        metrics = data.get("metrics")
        if isinstance(metrics, list):
            self.metrics = [m for m in metrics if isinstance(m, Mapping)]
        if data.get("overall") is not None:
            self.overall = str(data["overall"])
        for name, canary, baseline in _samples(data.get("samples")):
            self.latest[name] = (canary, baseline)
            for series, value in ((self.canary, canary), (self.baseline, baseline)):
                number = as_number(value)
                points = series.setdefault(name, [])
                points.append(number if number is not None else math.nan)
                del points[:-SERIES_LIMIT]


def _samples(raw: Any) -> list[tuple[str, Any, Any]]:
    """Accept ``{name: {canary, baseline}}`` or ``[{name, canary, baseline}]``."""
    found: list[tuple[str, Any, Any]] = []
    if isinstance(raw, Mapping):
        for name, value in raw.items():
            if isinstance(value, Mapping):
                found.append((str(name), value.get("canary"), value.get("baseline")))
    elif isinstance(raw, list):
        for item in raw:
            if isinstance(item, Mapping) and "name" in item:
                found.append((str(item["name"]), item.get("canary"), item.get("baseline")))
    return found


def as_number(value: Any) -> float | None:
    """A sample as a float if it is one (``"12.5 ms"`` is not), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _display_value(value: Any) -> float | str | None:
    number = as_number(value)
    if number is not None:
        return number
    return None if value is None else str(value)


def canary_view(
    deployment: Deployment,
    cache: _SeriesCache,
    from_release: str | None,
    to_release: str | None,
) -> CanaryView:
    """Join the deployment's persisted state with the analysis events read so far."""
    state = deployment.state
    verdicts = state.get("verdicts") or cache.metrics
    names: list[str] = []
    by_name: dict[str, Mapping[str, Any]] = {}
    for doc in verdicts if isinstance(verdicts, list) else []:
        if isinstance(doc, Mapping) and doc.get("name") is not None:
            name = str(doc["name"])
            names.append(name)
            by_name[name] = doc
    for name in cache.latest:
        if name not in by_name:
            names.append(name)
    metrics = []
    for name in names:
        doc = by_name.get(name, {})
        canary, baseline = cache.latest.get(name, (None, None))
        metrics.append(
            MetricView(
                name=name,
                verdict=str(doc.get("verdict", "pending")),
                explanation=str(doc.get("explanation", "")),
                canary=_display_value(canary),
                baseline=_display_value(baseline),
                canary_series=tuple(cache.canary.get(name, ())),
                baseline_series=tuple(cache.baseline.get(name, ())),
            )
        )
    ends = state.get("step_ends_at")
    try:
        step_ends_at = parse_iso(ends) if isinstance(ends, str) and ends else None
    except ValueError:
        step_ends_at = None
    return CanaryView(
        deployment_id=deployment.id,
        service=deployment.service,
        environment=deployment.environment,
        from_release=from_release,
        to_release=to_release,
        outcome=deployment.outcome,
        operator=deployment.operator,
        started_at=deployment.started_at,
        steps=tuple(str(s) for s in state.get("steps", []) or []),
        step_index=int(state.get("step_index") or 0),
        weight_pct=int(state.get("weight_pct") or 0),
        step_ends_at=step_ends_at,
        overall=str(state["overall"]) if state.get("overall") else cache.overall,
        metrics=tuple(metrics),
        reason=deployment.reason,
        step=deployment.step,
    )


def order_releases(choices: Sequence[ReleaseChoice]) -> list[ReleaseChoice]:
    """Rollback targets, safest first: the canary's baseline, the last known-good, the rest.

    The live release is not a target (except as the baseline during a canary);
    otherwise the store's order (most recently live first) is kept.
    """
    baseline = [c for c in choices if c.baseline]
    others = [c for c in choices if not c.live]
    good = next((c for c in others if c.known_good), None)
    rest = [c for c in others if c is not good]
    return baseline + ([good] if good else []) + rest


def flag_row(flag: Any, now: datetime, stale: tuple[tuple[str, str], ...] = ()) -> FlagRow:
    from console.flags.model import ENVIRONMENTS

    return FlagRow(
        key=flag.key,
        type=flag.type,
        stage=flag.stage,
        killed=not flag.enabled,
        environments={env: (flag.env(env).enabled, flag.env(env).percent) for env in ENVIRONMENTS},
        owner=flag.owner,
        age_days=max(0, (now.date() - flag.created).days),
        stale=stale,
        description=flag.description,
    )


def flag_fields(flag: Any) -> tuple[tuple[str, str], ...]:
    """The same fields ``shipdeck flags show`` prints, as (label, value) pairs."""
    from console.flags.model import ENVIRONMENTS

    rows = [
        ("description", flag.description or "(none)"),
        ("owner", flag.owner),
        ("type", flag.type),
        ("stage", flag.stage),
        ("created", flag.created.isoformat()),
        ("global", "on" if flag.enabled else "KILLED (enabled = false)"),
    ]
    for env in ENVIRONMENTS:
        state = flag.env(env)
        since = f" since {state.changed_at.isoformat()}" if state.changed_at else ""
        rows.append((env, f"{flag_state_text(flag.enabled, state.enabled, state.percent)}{since}"))
    rows += [
        ("stickiness", flag.stickiness),
        ("allow", ", ".join(flag.allow) or "-"),
        ("deny", ", ".join(flag.deny) or "-"),
        ("rules", "; ".join(r.describe() for r in flag.rules) or "-"),
        ("cleanup_by", flag.cleanup_by.isoformat() if flag.cleanup_by else "-"),
        ("ticket", flag.cleanup_ticket or "-"),
        ("notes", flag.notes or "-"),
        (
            "changed",
            f"{flag.last_changed_at.isoformat() if flag.last_changed_at else '-'}"
            f" by {flag.last_changed_by or '-'}",
        ),
    ]
    return tuple(rows)


def flag_state_text(globally_enabled: bool, enabled: bool, percent: int) -> str:
    if not globally_enabled:
        return "KILLED"
    return f"on {percent}%" if enabled else "off"


def describe_flag_change(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> str:
    """``production_percent 10 → 25, enabled true → false``: the fields that moved."""
    if old is None:
        return "created"
    if new is None:
        return "deleted"
    skip = {"last_changed_at", "last_changed_by"}
    parts = []
    for name in sorted(set(old) | set(new)):
        if name in skip or name.endswith("_changed_at"):
            continue
        if old.get(name) != new.get(name):
            parts.append(f"{name} {_short(old.get(name))} → {_short(new.get(name))}")
    return ", ".join(parts) or "no visible change"


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "-"
    text = str(value)
    return text if len(text) <= 24 else text[:23] + "…"
