"""What is live where: the status view both faces show.

Built from the state store (what shipdeck made live) plus, when a host probe
is given, what each host actually runs — a mixed-version fleet after a partial
failure is flagged, never hidden.

Every part of a status is a frozen dataclass read by attribute, so a typo is a
type error rather than a silent ``None``. Each has a ``to_dict()`` producing
exactly the JSON document ``shipdeck status --json`` and ``shipdeck hosts
--json`` print (key order included): scripts parse those, so the dataclasses
must never change them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from console.core.clock import Clock, iso
from console.core.config import Config
from console.core.locking import describe_lock
from console.core.store import Deployment, Drill, Lock, StateStore
from console.core.store.model import Outcome

# -- what a host reports ----------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerView:
    """One shipdeck container as a host reported it during the last probe."""

    name: str
    service: str
    release: str
    color: str
    track: str
    state: str
    health: str
    host_port: int | None = None
    image: str = ""
    created: datetime | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "service": self.service,
            "release": self.release,
            "color": self.color,
            "track": self.track,
            "state": self.state,
            "health": self.health,
            "host_port": self.host_port,
            "image": self.image,
            # Docker's own ISO form (``+00:00``), as ``shipdeck hosts --json`` always printed it.
            "created": self.created.isoformat() if self.created else None,
        }


@dataclass(frozen=True)
class HostProbeView:
    """One host as the probe found it: reachable (with its containers) or why not."""

    reachable: bool
    error: str | None = None
    docker_version: str | None = None
    containers: tuple[ContainerView, ...] = ()
    # The ShipdeckError code when unreachable: "invalid" means fix the config or a key file.
    error_code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"reachable": self.reachable, "error": self.error}
        if self.error_code is not None:
            doc["error_code"] = self.error_code
        doc["docker_version"] = self.docker_version
        doc["containers"] = [c.to_dict() for c in self.containers]
        return doc


HostsView = Mapping[str, HostProbeView]
# Asked for host names, answers what each of them runs (hosts it could not ask may be absent).
HostProbe = Callable[[list[str]], Awaitable[Mapping[str, HostProbeView]]]


# -- the parts of one service's status -----------------------------------------------------


@dataclass(frozen=True)
class RolloutProgress:
    """The deployment running now: where the state machine is and whether its holder lives."""

    id: int
    kind: str
    strategy: str
    step: str | None
    operator: str
    started_at: datetime
    weight_pct: int | None
    step_index: int | None
    step_ends_at: str | None  # ISO 8601, as the state machine stored it
    verdicts: tuple[Mapping[str, Any], ...]  # the judge's last verdict per metric, as recorded
    interrupted: bool  # the heartbeat is older than the lock lease: the holder stopped
    heartbeat_age_s: float | None

    @property
    def is_canary(self) -> bool:
        return self.strategy == "canary"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "strategy": self.strategy,
            "step": self.step,
            "operator": self.operator,
            "started_at": iso(self.started_at),
            "weight_pct": self.weight_pct,
            "step_index": self.step_index,
            "step_ends_at": self.step_ends_at,
            "verdicts": list(self.verdicts),
            "interrupted": self.interrupted,
            "heartbeat_age_s": self.heartbeat_age_s,
        }


@dataclass(frozen=True)
class LockView:
    """Who holds a service's lock, since when and why; ``text`` is the one-line summary."""

    holder: str
    since: datetime
    reason: str
    stale: bool
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "holder": self.holder,
            "since": iso(self.since),
            "reason": self.reason,
            "stale": self.stale,
            "text": self.text,
        }


@dataclass(frozen=True)
class LastDeploy:
    """The newest deployment of a service in an environment (running or finished)."""

    id: int
    kind: str
    outcome: Outcome
    reason: str | None
    finished_at: datetime | None
    age_s: float  # since it finished, or since it started while still running

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "outcome": self.outcome,
            "reason": self.reason,
            "finished_at": iso(self.finished_at),
            "age_s": self.age_s,
        }


@dataclass(frozen=True)
class DrillView:
    """The last successful rollback drill, and a warning when it is missing or too old."""

    last_success_at: datetime | None
    age_days: float | None
    warning: str | None
    rollback_s: float | None = None
    rollforward_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.last_success_at is None:
            # Never drilled: no timings to show, and the document has never carried them.
            return {"last_success_at": None, "age_days": self.age_days, "warning": self.warning}
        return {
            "last_success_at": iso(self.last_success_at),
            "age_days": self.age_days,
            "rollback_s": self.rollback_s,
            "rollforward_s": self.rollforward_s,
            "warning": self.warning,
        }


@dataclass(frozen=True)
class HostView:
    """One host of a service's environment: which of its releases serve there."""

    reachable: bool
    error: str | None
    running: tuple[str, ...]  # releases of the live color running here, sorted
    containers: tuple[ContainerView, ...]  # this service's running containers, any color

    def to_dict(self) -> dict[str, Any]:
        return {
            "reachable": self.reachable,
            "error": self.error,
            "running": list(self.running),
            "containers": [c.to_dict() for c in self.containers],
        }


@dataclass(frozen=True)
class ServiceStatus:
    """One service in one environment: live, standby and canary releases, and what runs now."""

    service: str
    environment: str
    live_release: str | None
    live_image: str | None
    live_color: str | None
    standby_release: str | None
    standby_color: str | None
    canary_release: str | None
    canary_weight_pct: int
    in_progress: RolloutProgress | None
    lock: LockView | None
    last_deploy: LastDeploy | None
    hosts: Mapping[str, HostView] = field(default_factory=dict)
    mixed_versions: bool = False
    drill: DrillView | None = None

    @property
    def key(self) -> str:
        return f"{self.service}/{self.environment}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "environment": self.environment,
            "live_release": self.live_release,
            "live_image": self.live_image,
            "live_color": self.live_color,
            "standby_release": self.standby_release,
            "standby_color": self.standby_color,
            "canary_release": self.canary_release,
            "canary_weight_pct": self.canary_weight_pct,
            "in_progress": self.in_progress.to_dict() if self.in_progress else None,
            "lock": self.lock.to_dict() if self.lock else None,
            "last_deploy": self.last_deploy.to_dict() if self.last_deploy else None,
            "hosts": {name: view.to_dict() for name, view in self.hosts.items()},
            "mixed_versions": self.mixed_versions,
            "drill": self.drill.to_dict() if self.drill else None,
        }


# -- building it ------------------------------------------------------------------------------


def _release_name(store: StateStore, release_id: int | None) -> tuple[str | None, str | None]:
    if release_id is None:
        return None, None
    release = store.release(release_id)
    return (release.name, release.image_ref) if release else (None, None)


def drill_view(last: Drill | None, service: str, max_age_days: float, now: datetime) -> DrillView:
    if last is None:
        return DrillView(None, None, "never drilled: run shipdeck drill " + service)
    age_days = (now - last.at).total_seconds() / 86400
    warning = None
    if age_days > max_age_days:
        warning = f"last successful drill {age_days:.0f} days ago (> {max_age_days:.0f})"
    return DrillView(
        last_success_at=last.at,
        age_days=round(age_days, 2),
        warning=warning,
        rollback_s=last.rollback_s,
        rollforward_s=last.rollforward_s,
    )


def lock_view(lock: Lock, now: datetime, clock: Clock) -> LockView:
    return LockView(
        holder=lock.holder,
        since=lock.since,
        reason=lock.reason,
        stale=lock.is_stale(now),
        text=describe_lock(lock, clock),
    )


def rollout_progress(dep: Deployment, now: datetime, lock_lease_s: float) -> RolloutProgress:
    heartbeat_age = (now - dep.heartbeat_at).total_seconds() if dep.heartbeat_at else None
    verdicts = dep.state.get("verdicts", [])
    return RolloutProgress(
        id=dep.id,
        kind=dep.kind,
        strategy=dep.strategy,
        step=dep.step,
        operator=dep.operator,
        started_at=dep.started_at,
        weight_pct=dep.state.get("weight_pct"),
        step_index=dep.state.get("step_index"),
        step_ends_at=dep.state.get("step_ends_at"),
        verdicts=tuple(verdicts) if isinstance(verdicts, list) else (),
        interrupted=heartbeat_age is not None and heartbeat_age > lock_lease_s,
        heartbeat_age_s=round(heartbeat_age, 1) if heartbeat_age is not None else None,
    )


def last_deploy(dep: Deployment, now: datetime) -> LastDeploy:
    return LastDeploy(
        id=dep.id,
        kind=dep.kind,
        outcome=dep.outcome,
        reason=dep.reason,
        finished_at=dep.finished_at,
        age_s=round((now - (dep.finished_at or dep.started_at)).total_seconds(), 1),
    )


def host_view(view: HostProbeView, container_service: str, live_color: str | None) -> HostView:
    """What one host runs of one service: every running container, and the live color's releases."""
    live_here = tuple(
        c for c in view.containers if c.service == container_service and c.state == "running"
    )
    serving = [c for c in live_here if c.color == live_color] if live_color else live_here
    return HostView(
        reachable=view.reachable,
        error=view.error,
        running=tuple(sorted({str(c.release) for c in serving})),
        containers=live_here,
    )


async def service_statuses(
    config: Config,
    store: StateStore,
    clock: Clock,
    service: str | None = None,
    probe: HostProbe | None = None,
) -> list[ServiceStatus]:
    names = [config.service(service).name] if service else sorted(config.services)
    probed: Mapping[str, HostProbeView] = {}
    if probe is not None:
        wanted = sorted(
            {h for n in names for e in config.services[n].environments.values() for h in e.hosts}
        )
        probed = await probe(wanted)
    now = clock.now()
    result = []
    for name in names:
        svc = config.services[name]
        lock = store.lock(name)
        lock_doc = lock_view(lock, now, clock) if lock is not None else None
        for env_name, env in svc.environments.items():
            traffic = store.traffic(name, env_name)
            live_color = traffic.live_color if traffic else None
            live_name, live_image = (None, None)
            standby_name = standby_color = canary_name = None
            canary_weight = 0
            if traffic and live_color:
                live_name, live_image = _release_name(store, traffic.release_of(live_color))
                standby_color = "green" if live_color == "blue" else "blue"
                standby_name, _ = _release_name(store, traffic.release_of(standby_color))
                canary_name, _ = _release_name(store, traffic.canary_release)
                canary_weight = traffic.canary_weight_pct
            running = store.in_progress(name, env_name)
            progress = rollout_progress(running[-1], now, config.lock_lease_s) if running else None
            last = store.last_deployment(name, env_name)
            # Containers of a non-production environment carry the environment in their name.
            container_service = name if env_name == "production" else f"{name}-{env_name}"
            hosts: dict[str, HostView] = {}
            for host in env.hosts:
                view = probed.get(host)
                if view is not None:
                    hosts[host] = host_view(view, container_service, live_color)
            releases_seen = {release for h in hosts.values() for release in h.running}
            result.append(
                ServiceStatus(
                    service=name,
                    environment=env_name,
                    live_release=live_name,
                    live_image=live_image,
                    live_color=live_color,
                    standby_release=standby_name,
                    standby_color=standby_color if standby_name else None,
                    canary_release=canary_name,
                    canary_weight_pct=canary_weight,
                    in_progress=progress,
                    lock=lock_doc,
                    last_deploy=last_deploy(last, now) if last is not None else None,
                    hosts=hosts,
                    mixed_versions=len(releases_seen) > 1,
                    drill=drill_view(
                        store.last_drill(name, env_name), name, svc.drill_max_age_days, now
                    ),
                )
            )
    return result
