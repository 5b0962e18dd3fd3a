"""The console's view of its load balancers: config → LB writers, plans → LB states.

Every traffic change goes through ``apply``: the writer renders, validates
with the LB's own checker, installs atomically, reloads (or uses HAProxy's
runtime API) and verifies. Remote LBs are reached over the same SSH pool as
the Docker hosts.
"""

from __future__ import annotations

import difflib
from typing import Any

from console.core.config import Config, LoadBalancerConfig
from console.core.errors import InvalidInput
from console.core.fleet import Fleet, as_shipdeck_error
from console.core.ops.traffic import TrafficPlan
from engines.errors import EngineError
from engines.lb import Backend, LbSettings, LocalTransport, SshTransport, TrafficState, make_writer


def to_state(plan: TrafficPlan) -> TrafficState:
    backends = tuple(
        Backend(
            name=b.name,
            address=b.address,
            port=b.port,
            release=b.release,
            color=b.slot if b.slot in ("blue", "green") else "blue",
            weight_pct=b.weight_pct,
        )
        for b in plan.backends
    )
    return TrafficState(
        service=lb_service_name(plan.service, plan.environment),
        listen_address=plan.listen_address,
        listen_port=plan.listen_port,
        preview_port=plan.preview_port,
        backends=backends,
        preview_color=plan.preview_slot,
    )


def lb_service_name(service: str, environment: str) -> str:
    """The name a service environment has inside the LB (one file per name)."""
    return service if environment == "production" else f"{service}-{environment}"


class LbRegistry:
    """Writers for the configured LBs, created lazily on the right transport."""

    def __init__(self, config: Config, fleet: Fleet) -> None:
        self.config = config
        self.fleet = fleet
        self._writers: dict[str, Any] = {}

    def settings(self, lb: LoadBalancerConfig, health_path: str = "/healthz") -> LbSettings:
        verify = "127.0.0.1"
        return LbSettings(
            health_path=health_path,
            name=lb.name,
            kind=lb.kind,
            config_dir=lb.config_dir,
            main_config=lb.main_config,
            validate_argv=lb.validate_command,
            reload_argv=lb.reload_command,
            stats_socket=lb.stats_socket,
            master_socket=lb.master_socket,
            use_runtime_api=lb.use_runtime_api,
            verify_address=verify,
        )

    async def writer(self, name: str, health_path: str = "/healthz") -> Any:
        """One writer per LB and health path: the LB only sends weight to backends that
        answer the service's own health check (never a business endpoint)."""
        key = f"{name}:{health_path}"
        if key not in self._writers:
            lb = self.config.load_balancers.get(name)
            if lb is None:
                raise InvalidInput(f'unknown load balancer "{name}"')
            if lb.host == "local":
                transport: Any = LocalTransport()
            else:
                host = self.fleet.host(lb.host)
                try:
                    connection = await self.fleet.pool.connection(host.spec.ssh)  # type: ignore[arg-type]
                except EngineError as error:
                    raise as_shipdeck_error(error) from None
                transport = SshTransport(connection)
            self._writers[key] = make_writer(self.settings(lb, health_path), transport)
        return self._writers[key]

    def _lb_of(self, plan: TrafficPlan) -> str:
        return self.config.services[plan.service].environments[plan.environment].load_balancer

    async def _writer_for(self, plan: TrafficPlan) -> Any:
        return await self.writer(self._lb_of(plan), self.config.services[plan.service].health_path)

    async def apply(self, plan: TrafficPlan) -> dict[str, Any]:
        writer = await self._writer_for(plan)
        try:
            result = await writer.apply(to_state(plan))
        except EngineError as error:
            raise as_shipdeck_error(error) from None
        return {
            "method": result.method,
            "duration_s": result.duration_s,
            "verified_release": result.verified_release,
            "changed": result.changed,
        }

    async def diff(self, plan: TrafficPlan) -> str:
        """The exact change to the installed LB file, as a unified diff."""
        writer = await self._writer_for(plan)
        state = to_state(plan)
        try:
            current = await writer.current_config(state.service)
            new = writer.render(state)
        except EngineError as error:
            raise as_shipdeck_error(error) from None
        name = f"shipdeck-{state.service}"
        return "".join(
            difflib.unified_diff(
                (current or "").splitlines(keepends=True),
                new.splitlines(keepends=True),
                f"{name} (installed)",
                f"{name} (planned)",
            )
        )

    async def show(self, service: str, environment: str) -> dict[str, Any]:
        env = self.config.services[service].environments[environment]
        writer = await self.writer(env.load_balancer, self.config.services[service].health_path)
        name = lb_service_name(service, environment)
        try:
            observed = await writer.observed_state(name)
            main = await writer.probe(name, "main")
            preview = await writer.probe(name, "preview")
        except EngineError as error:
            raise as_shipdeck_error(error) from None
        return {
            "service": service,
            "environment": environment,
            "load_balancer": env.load_balancer,
            "backends": [
                {
                    "name": b.name,
                    "address": b.address,
                    "port": b.port,
                    "release": b.release,
                    "color": b.color,
                    "weight_pct": b.weight_pct,
                    "up": b.up,
                }
                for b in observed
            ],
            "answering_release": main,
            "preview_release": preview,
        }
