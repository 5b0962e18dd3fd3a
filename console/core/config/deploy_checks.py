"""Run the engines' own deploy-time checks on a loaded config.

``config check`` must refuse whatever a deploy would refuse later. The loader
checks each key precisely (with its line); this module is the backstop that
keeps the two from drifting apart: it builds, from the config alone, the very
objects a deploy hands to the engines (``HostSpec``/``SshTarget`` through
``fleet.host_spec``, ``LbSettings`` and the LB writer through ``LbRegistry``,
one ``TrafficState`` with every host's blue, green and canary backend through
``ops.lb.to_state``, and each instance's ``ContainerSpec``) and lets the
engines validate them, rendering the LB file too. Nothing here connects,
reads or writes anything.

It is imported lazily by the loader, after the config package exists: it
depends on ``console.core.fleet`` and ``console.core.ops``, which import the
config model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from console.core.config.model import (
    Config,
    EnvironmentTarget,
    LoadBalancerConfig,
    ServiceConfig,
)
from console.core.fleet import Fleet, host_spec
from console.core.ops.instances import instance_service, slot_parts
from console.core.ops.lb import LbRegistry, to_state
from console.core.ops.traffic import BackendPlan, TrafficPlan, split_share
from engines.docker_host import ContainerSpec
from engines.errors import EngineError
from engines.lb import LocalTransport, make_writer

SLOTS = ("blue", "green", "canary")
# Stand-ins for what only a deploy supplies: a release name and a pinned digest.
_RELEASE = "r1"
_DIGEST = "sha256:" + "0" * 64

AddError = Callable[[str, str], None]


def check_with_engines(config: Config, add: AddError) -> None:
    """Report (``add(dotted.path, cause)``) what an engine would refuse at deploy time."""
    for name, host in config.hosts.items():
        _engine_check(add, f"hosts.{name}", host_spec, host)
    registry = LbRegistry(config, Fleet(config))
    for service in config.services.values():
        for env in service.environments.values():
            where = _env_path(service, env)
            lb = config.load_balancers.get(env.load_balancer)
            if lb is not None:
                _engine_check(add, where, _render, registry, lb, config, service, env)
            for host_name in env.hosts:
                _engine_check(add, where, _containers, service, env, host_name)


def _render(
    registry: LbRegistry,
    lb: LoadBalancerConfig,
    config: Config,
    service: ServiceConfig,
    env: EnvironmentTarget,
) -> None:
    writer = make_writer(registry.settings(lb, service.health_path), LocalTransport())
    writer.render(to_state(_representative_plan(config, service, env)))


def _representative_plan(
    config: Config, service: ServiceConfig, env: EnvironmentTarget
) -> TrafficPlan:
    """Every backend the environment can ever have: each host's blue, green and canary."""
    shares = split_share(100, list(env.hosts))
    backends = tuple(
        BackendPlan(
            host=host,
            slot=slot,
            address=config.hosts[host].publish_address,
            port=env.host_port(slot),
            release=_RELEASE,
            weight_pct=shares[host] if slot == "blue" else 0,
        )
        for host in env.hosts
        for slot in SLOTS
    )
    return TrafficPlan(
        service=service.name,
        environment=env.name,
        listen_address=env.listen_address,
        listen_port=env.listen_port,
        preview_port=env.preview_port,
        backends=backends,
        preview_slot="green",
    )


def _containers(service: ServiceConfig, env: EnvironmentTarget, host: str) -> None:
    for slot in SLOTS:
        color, track = slot_parts(slot)
        ContainerSpec(
            service=instance_service(service, env),
            release=_RELEASE,
            image=f"{service.image}@{_DIGEST}",
            container_port=service.container_port,
            host_port=env.host_port(slot),
            color=color,
            track=track,
            env=service.env,
        ).validate(host)


def _engine_check(add: AddError, where: str, check: Callable[..., object], *args: Any) -> None:
    try:
        check(*args)
    except EngineError as error:
        add(where, f"refused by the deploy-time check: {error.cause}")
    except (ValueError, TypeError) as error:
        add(where, f"refused by the deploy-time check: {error}")


def _env_path(service: ServiceConfig, env: EnvironmentTarget) -> str:
    if len(service.environments) == 1 and env.name == "production":
        return f"services.{service.name}"
    return f"services.{service.name}.environments.{env.name}"
