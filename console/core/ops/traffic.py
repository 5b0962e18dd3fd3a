"""Traffic plans: which backends get what share, independent of the LB kind.

A plan lists every backend of one service in one environment — the live color
on each host, the warm standby (weight 0, ready for an instant flip back) and a
canary track — with integer weights summing to 100. Shares are split across
hosts by largest remainder, so 5% over two hosts is 3 + 2, never 2.5.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from console.core.config import EnvironmentTarget, HostConfig, ServiceConfig
from console.core.errors import Blocked


@dataclass(frozen=True)
class BackendPlan:
    host: str
    slot: str  # blue | green | canary
    address: str
    port: int
    release: str
    weight_pct: int

    @property
    def name(self) -> str:
        return f"{self.host}-{self.slot}"


@dataclass(frozen=True)
class TrafficPlan:
    service: str
    environment: str
    listen_address: str
    listen_port: int
    preview_port: int
    backends: tuple[BackendPlan, ...]
    preview_slot: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def weights(self) -> dict[str, int]:
        return {b.name: b.weight_pct for b in self.backends}

    def serving_releases(self) -> set[str]:
        return {b.release for b in self.backends if b.weight_pct > 0}

    def describe(self) -> str:
        parts = [f"{b.name}={b.release}:{b.weight_pct}%" for b in self.backends]
        preview = f" preview→{self.preview_slot}" if self.preview_slot else ""
        return ", ".join(parts) + preview


def split_share(total: int, hosts: list[str]) -> dict[str, int]:
    """Largest-remainder split of an integer share across hosts (first hosts get the extra)."""
    if not hosts:
        return {}
    base, extra = divmod(total, len(hosts))
    return {host: base + (1 if index < extra else 0) for index, host in enumerate(hosts)}


def plan_traffic(
    service: ServiceConfig,
    env: EnvironmentTarget,
    hosts: dict[str, HostConfig],
    slots: dict[str, str],
    live_slot: str,
    canary_weight_pct: int = 0,
    preview_slot: str | None = None,
    canary_slot: str | None = None,
) -> TrafficPlan:
    """``slots`` maps slot → release name for every slot that runs on all hosts.

    ``live_slot`` takes ``100 - canary_weight_pct``; ``canary_slot`` (the idle
    color running the canary track) the rest; other slots stay in the config
    at weight 0, ready for an instant flip back.
    """
    canary_slot = canary_slot or ("canary" if "canary" in slots else None)
    if live_slot not in slots:
        raise Blocked(
            f"{service.name}/{env.name}: refusing a traffic plan with no live backend ({live_slot} is not running)"
        )
    if not 0 <= canary_weight_pct <= 100:
        raise Blocked(f"canary weight {canary_weight_pct} outside 0-100")
    if canary_weight_pct and (
        canary_slot is None or canary_slot not in slots or canary_slot == live_slot
    ):
        raise Blocked(
            f"{service.name}/{env.name}: canary weight {canary_weight_pct}% but no canary is running"
        )
    host_names = list(env.hosts)
    live_share = split_share(100 - canary_weight_pct, host_names)
    canary_share = split_share(canary_weight_pct, host_names)
    backends = []
    for slot, release in slots.items():
        for host in host_names:
            if slot == live_slot:
                weight = live_share[host]
            elif slot == canary_slot:
                weight = canary_share[host]
            else:
                weight = 0
            backends.append(
                BackendPlan(
                    host, slot, hosts[host].publish_address, env.host_port(slot), release, weight
                )
            )
    if sum(b.weight_pct for b in backends) != 100:
        raise Blocked(f"{service.name}/{env.name}: weights do not sum to 100")
    if preview_slot is not None and preview_slot not in slots:
        preview_slot = None
    return TrafficPlan(
        service=service.name,
        environment=env.name,
        listen_address=env.listen_address,
        listen_port=env.listen_port,
        preview_port=env.preview_port,
        backends=tuple(sorted(backends, key=lambda b: (b.slot, b.host))),
        preview_slot=preview_slot,
    )
