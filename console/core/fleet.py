"""The fleet: every configured Docker host as an engine, behind one SSH pool.

Core operations ask the fleet for a service's hosts in an environment and fan
operations out over them. Engine errors are mapped here to the console's own
(unreachable → exit 4, failed → exit 1), so nothing above this module sees
engine exception types.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from console.core.config import Config, HostConfig
from console.core.errors import InvalidInput, OperationFailed, ShipdeckError, Unreachable
from console.core.status import ContainerView, HostProbe, HostProbeView
from engines.docker_host import ContainerInfo, DockerHost, HostSpec
from engines.errors import EngineError, EngineOperationFailed, InvalidTargetInput, TargetUnreachable
from engines.fanout import FanOutResult, fan_out
from engines.http import HttpResponse, http_get
from engines.ssh import SshPool, SshTarget

T = TypeVar("T")


def as_shipdeck_error(error: BaseException) -> ShipdeckError:
    """Map an engine failure to the console's error kinds (one line, names the target)."""
    if isinstance(error, ShipdeckError):
        return error
    if isinstance(error, TargetUnreachable):
        return Unreachable(str(error))
    if isinstance(error, InvalidTargetInput):
        return InvalidInput(str(error))
    if isinstance(error, EngineOperationFailed | EngineError):
        return OperationFailed(str(error))
    if isinstance(error, TimeoutError):
        return Unreachable(f"timed out: {error}" if str(error) else "timed out")
    return OperationFailed(f"{type(error).__name__}: {error}")


def host_spec(host: HostConfig) -> HostSpec:
    ssh = None
    if host.ssh is not None:
        ssh = SshTarget(
            name=host.name,
            address=host.ssh.address,
            port=host.ssh.port,
            user=host.ssh.user,
            known_hosts=host.known_hosts,  # type: ignore[arg-type]  # loader defaults it for ssh hosts
            identity_file=host.identity_file,
            connect_timeout_s=host.connect_timeout_s,
        )
    return HostSpec(
        name=host.name,
        ssh=ssh,
        docker_socket=host.docker_socket,
        publish_address=host.publish_address,
    )


class Fleet:
    """Engines for the configured hosts, created lazily, closed together."""

    def __init__(self, config: Config, pool: SshPool | None = None) -> None:
        self.config = config
        self.pool = pool or SshPool()
        self._hosts: dict[str, DockerHost] = {}

    def host(self, name: str) -> DockerHost:
        if name not in self._hosts:
            try:
                spec = host_spec(self.config.hosts[name])
            except KeyError:
                raise InvalidInput(f'unknown host "{name}"') from None
            except EngineError as error:
                raise as_shipdeck_error(error) from None
            self._hosts[name] = DockerHost(spec, self.pool)
        return self._hosts[name]

    def hosts(self, names: tuple[str, ...] | list[str]) -> list[DockerHost]:
        return [self.host(n) for n in names]

    async def each(
        self,
        names: tuple[str, ...] | list[str],
        op: Callable[[DockerHost], Awaitable[T]],
        timeout_s: float | None = None,
    ) -> FanOutResult[DockerHost, T]:
        return await fan_out(self.hosts(names), op, item_timeout_s=timeout_s)

    async def all_or_raise(
        self,
        names: tuple[str, ...] | list[str],
        op: Callable[[DockerHost], Awaitable[T]],
        what: str,
        timeout_s: float | None = None,
    ) -> dict[str, T]:
        """Fan out; if any host failed raise one error naming every failed host."""
        result = await self.each(names, op, timeout_s)
        if not result.all_ok:
            failures = "; ".join(o.describe_error() for o in result.failed)
            first = result.failed[0].error
            kind = (
                Unreachable
                if isinstance(first, TargetUnreachable | TimeoutError)
                else OperationFailed
            )
            raise kind(f"{what} failed on {', '.join(result.failed_labels)}: {failures}")
        return result.values()

    async def http_get(
        self, host_name: str, port: int, path: str, timeout_s: float = 5.0
    ) -> HttpResponse:
        """GET an instance where the LB reaches it (through SSH for remote hosts)."""
        host = self.host(host_name)
        address = host.spec.publish_address
        if address in ("0.0.0.0", "::"):
            address = "127.0.0.1"
        try:
            return await http_get(
                address,
                port,
                path,
                timeout_s=timeout_s,
                pool=self.pool if host.spec.ssh else None,
                ssh=host.spec.ssh,
                target_name=host_name,
            )
        except EngineError as error:
            raise as_shipdeck_error(error) from None

    async def close(self) -> None:
        for host in self._hosts.values():
            # Closing must not mask the operation's own result.
            with contextlib.suppress(Exception):
                await host.close()
        await self.pool.close()


def container_view(container: ContainerInfo) -> ContainerView:
    return ContainerView(
        name=container.name,
        service=container.service,
        release=container.release,
        color=container.color,
        track=container.track,
        state=container.state,
        health=container.health,
        host_port=container.host_port,
        image=container.image,
        created=container.created,
    )


async def probe_hosts(fleet: Fleet, names: list[str]) -> dict[str, HostProbeView]:
    """Each host: reachable or not (with reason), Docker version, shipdeck containers."""

    async def look(host: DockerHost) -> HostProbeView:
        version = await host.ping()
        containers = await host.list_containers()
        return HostProbeView(
            reachable=True,
            docker_version=version,
            containers=tuple(container_view(c) for c in containers),
        )

    result = await fleet.each(
        names,
        look,
        timeout_s=max(
            5.0, max((fleet.config.hosts[n].connect_timeout_s for n in names), default=5.0) + 5
        ),
    )
    view: dict[str, HostProbeView] = {}
    for outcome in result.outcomes:
        if outcome.ok and outcome.value is not None:
            view[outcome.label] = outcome.value
        else:
            error = as_shipdeck_error(outcome.error or OperationFailed("no answer"))
            view[outcome.label] = HostProbeView(
                reachable=False,
                error=str(error),
                error_code=error.code,  # "invalid": fix the config or a key file
            )
    return view


def probe_hosts_factory(config: Config) -> HostProbe:
    """A status probe that opens a fleet, asks every host, and closes it again."""

    async def probe(names: list[str]) -> dict[str, HostProbeView]:
        fleet = Fleet(config)
        try:
            return await probe_hosts(fleet, names)
        finally:
            await fleet.close()

    return probe
