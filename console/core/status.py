"""What is live where: the status view both faces show.

Built from the state store (what shipdeck made live) plus, when a host probe
is given, what each host actually runs — a mixed-version fleet after a partial
failure is flagged, never hidden.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from console.core.clock import Clock, iso
from console.core.config import Config
from console.core.locking import describe_lock
from console.core.store import StateStore

# host name → {"reachable": bool, "error": str|None, "containers": [{"service","release","color","track","state","health"}]}
HostProbe = Callable[[list[str]], Awaitable[dict[str, dict[str, Any]]]]


@dataclass
class ServiceStatus:
    service: str
    environment: str
    live_release: str | None
    live_image: str | None
    live_color: str | None
    standby_release: str | None
    standby_color: str | None
    canary_release: str | None
    canary_weight_pct: int
    in_progress: dict[str, Any] | None
    lock: dict[str, Any] | None
    last_deploy: dict[str, Any] | None
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    mixed_versions: bool = False
    drill: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _release_name(store: StateStore, release_id: int | None) -> tuple[str | None, str | None]:
    if release_id is None:
        return None, None
    release = store.release(release_id)
    return (release.name, release.image_ref) if release else (None, None)


def _drill_doc(
    store: StateStore, service: str, environment: str, max_age_days: float, now: datetime
) -> dict[str, Any]:
    last = store.last_drill(service, environment)
    if last is None:
        return {
            "last_success_at": None,
            "age_days": None,
            "warning": "never drilled: run shipdeck drill " + service,
        }
    age_days = (now - last.at).total_seconds() / 86400
    warning = None
    if age_days > max_age_days:
        warning = f"last successful drill {age_days:.0f} days ago (> {max_age_days:.0f})"
    return {
        "last_success_at": iso(last.at),
        "age_days": round(age_days, 2),
        "rollback_s": last.rollback_s,
        "rollforward_s": last.rollforward_s,
        "warning": warning,
    }


async def service_statuses(
    config: Config,
    store: StateStore,
    clock: Clock,
    service: str | None = None,
    probe: HostProbe | None = None,
) -> list[ServiceStatus]:
    names = [config.service(service).name] if service else sorted(config.services)
    host_view: dict[str, dict[str, Any]] = {}
    if probe is not None:
        wanted = sorted(
            {h for n in names for e in config.services[n].environments.values() for h in e.hosts}
        )
        host_view = await probe(wanted)
    now = clock.now()
    result = []
    for name in names:
        svc = config.services[name]
        lock = store.lock(name)
        lock_doc = None
        if lock is not None:
            lock_doc = {
                "holder": lock.holder,
                "since": iso(lock.since),
                "reason": lock.reason,
                "stale": lock.is_stale(now),
                "text": describe_lock(lock, clock),
            }
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
            progress = None
            if running:
                dep = running[-1]
                heartbeat_age = (
                    (now - dep.heartbeat_at).total_seconds() if dep.heartbeat_at else None
                )
                progress = {
                    "id": dep.id,
                    "kind": dep.kind,
                    "strategy": dep.strategy,
                    "step": dep.step,
                    "operator": dep.operator,
                    "started_at": iso(dep.started_at),
                    "weight_pct": dep.state.get("weight_pct"),
                    "step_index": dep.state.get("step_index"),
                    "step_ends_at": dep.state.get("step_ends_at"),
                    "verdicts": dep.state.get("verdicts", []),
                    "interrupted": heartbeat_age is not None
                    and heartbeat_age > config.lock_lease_s,
                    "heartbeat_age_s": round(heartbeat_age, 1)
                    if heartbeat_age is not None
                    else None,
                }
            last = store.last_deployment(name, env_name)
            last_doc = None
            if last is not None:
                last_doc = {
                    "id": last.id,
                    "kind": last.kind,
                    "outcome": last.outcome,
                    "reason": last.reason,
                    "finished_at": iso(last.finished_at),
                    "age_s": round(
                        (now - (last.finished_at or last.started_at)).total_seconds(), 1
                    ),
                }
            hosts: dict[str, dict[str, Any]] = {}
            releases_seen: set[str] = set()
            for host in env.hosts:
                view = host_view.get(host)
                if view is None:
                    continue
                live_here = [
                    c
                    for c in view.get("containers", [])
                    if c.get("service")
                    == (name if env_name == "production" else f"{name}-{env_name}")
                    and c.get("state") == "running"
                ]
                serving = (
                    [c for c in live_here if c.get("color") == live_color]
                    if live_color
                    else live_here
                )
                for container in serving:
                    releases_seen.add(str(container.get("release")))
                hosts[host] = {
                    "reachable": view.get("reachable", False),
                    "error": view.get("error"),
                    "running": sorted({str(c.get("release")) for c in serving}),
                    "containers": live_here,
                }
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
                    last_deploy=last_doc,
                    hosts=hosts,
                    mixed_versions=len(releases_seen) > 1,
                    drill=_drill_doc(store, name, env_name, svc.drill_max_age_days, now),
                )
            )
    return result
