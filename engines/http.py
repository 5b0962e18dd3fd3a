"""Shipdeck's one HTTP client: GET an instance, an LB listener or a metrics page.

Every engine that speaks HTTP (smoke tests, post-deploy verification, LB swap
verification, container health probes, metric scrapes) goes through
:func:`http_get`, built on httpx, so timeouts, the body limit, the ``Host``
header (``[::1]:8080`` for IPv6 literals) and the error messages live here once.

Instances on a remote host must be reached exactly where the load balancer
reaches them, which may be that host's loopback: so the TCP stream can come
from an SSH connection (asyncssh direct-tcpip, e.g. ``SshPool.open_tcp``)
instead of a socket. That is done one level below httpx, in httpcore's
documented extension point, a network backend: :class:`StreamBackend` turns
any "open a TCP stream" function (``asyncio.open_connection`` or an SSH one)
into httpcore streams, and :class:`BackendTransport` is an httpx transport
over one httpcore connection using that backend. Those live in
``engines.http_transport``, imported at the first request: importing httpx
also imports its optional command-line extras (rich) when they are installed,
and ``import console.core`` must stay free of them (and fast). The HTTP/1.1 protocol
(h11), the request building and the response streaming are the libraries'.

It must never: follow redirects, read proxies or certificates from the
environment (``trust_env=False``: an ``HTTP_PROXY`` must not divert a loopback
probe), keep a connection beyond one call (verification must reach whichever
LB worker accepts new connections now), hold more than ``max_body_bytes`` of
a body in memory, or take longer than ``timeout_s`` in total.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from engines.errors import TargetUnreachable
from engines.ssh import SshPool, SshTarget

DEFAULT_TIMEOUT_S = 5.0
# The largest body shipdeck reads on purpose is a busy instance's /metrics page.
MAX_BODY_BYTES = 8 * 1024 * 1024
USER_AGENT = "shipdeck"
# Bytes as sent: a compressed body would make the limit a limit on the wrong thing.
_REQUEST_HEADERS = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", "Connection": "close"}


class EndpointUnreachable(TargetUnreachable):
    """The HTTP endpoint itself gave no usable answer (refused, timed out, not
    HTTP); an SSH connection in between, if any, is fine. Health probes retry
    on this, and give up at once when the SSH connection is what failed."""


@dataclass(frozen=True)
class HttpResponse:
    """Status, headers (names lower-cased) and body (``b""`` when not read)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class _Reader(Protocol):
    async def read(self, n: int = -1, /) -> bytes: ...


class _Writer(Protocol):
    def write(self, data: bytes, /) -> None: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...

    def get_extra_info(self, name: str, default: Any = None, /) -> Any: ...


TcpOpener = Callable[[str, int, float], Awaitable[tuple[Any, Any]]]
"""``(host, port, timeout_s) → (reader, writer)``: asyncio or asyncssh streams."""


async def open_direct(host: str, port: int, timeout_s: float) -> tuple[Any, Any]:
    """A plain TCP connection from this machine."""
    async with asyncio.timeout(timeout_s):
        return await asyncio.open_connection(host, port)


def via_ssh(pool: SshPool, target: SshTarget) -> TcpOpener:
    """TCP streams opened by ``target``'s host (direct-tcpip over the pool's
    connection). Its errors stay as the pool raises them: ``TargetUnreachable``
    when the SSH connection is lost, ``EngineOperationFailed`` when the host
    cannot open the port."""

    async def open_tcp(host: str, port: int, timeout_s: float) -> tuple[Any, Any]:
        return await pool.open_tcp(target, host, port, timeout_s=timeout_s)

    return open_tcp


def host_header(address: str, port: int) -> str:
    """``Host`` for ``address:port``: IPv6 literals in brackets (RFC 9110 §7.2)."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


async def http_get(
    address: str,
    port: int,
    path: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    pool: SshPool | None = None,
    ssh: SshTarget | None = None,
    opener: TcpOpener | None = None,
    target_name: str = "",
    headers: dict[str, str] | None = None,
    read_body: bool = True,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> HttpResponse:
    """GET ``path`` on a fresh connection, in at most ``timeout_s`` overall.

    The stream comes from ``opener`` if given, else through ``pool``/``ssh``
    when both are given, else directly. ``read_body=False`` returns at the
    headers (status probes). A body longer than ``max_body_bytes`` fails with
    ``EngineOperationFailed`` after reading at most that many bytes; no answer
    (refused, timed out, not HTTP) is ``EndpointUnreachable``; a failing SSH
    connection raises what the pool raises.
    """
    name = target_name or host_header(address, port)
    if (
        not path.startswith("/")
        or not path.isascii()
        or any(c == " " or not c.isprintable() for c in path)
    ):
        raise TargetUnreachable(name, f"refusing unsafe request path {path!r}")
    if opener is None:
        opener = via_ssh(pool, ssh) if pool is not None and ssh is not None else open_direct
    from engines.http_transport import fetch

    return await fetch(
        opener, address, port, path, name, timeout_s, headers, read_body, max_body_bytes
    )
