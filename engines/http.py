"""A minimal HTTP/1.1 GET over any stream: direct, or tunnelled through SSH.

Smoke tests, post-deploy verification and metric scrapes must reach instances
exactly where the load balancer does, which on a remote host may be its
loopback: so the connection can come from ``SshPool.open_tcp``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engines.errors import TargetUnreachable
from engines.ssh import SshPool, SshTarget

if TYPE_CHECKING:
    from asyncssh import SSHReader, SSHWriter

MAX_BODY_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


async def http_get(
    address: str,
    port: int,
    path: str,
    *,
    timeout_s: float = 5.0,
    pool: SshPool | None = None,
    ssh: SshTarget | None = None,
    target_name: str = "",
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    """GET ``path``; through ``pool``/``ssh`` when given. Raises ``TargetUnreachable``."""
    name = target_name or f"{address}:{port}"
    if not path.startswith("/") or any(c == " " or not c.isprintable() for c in path):
        raise TargetUnreachable(name, f"refusing unsafe request path {path!r}")
    try:
        async with asyncio.timeout(timeout_s):
            # One protocol over either stream: asyncio's own, or one tunnelled through SSH.
            reader: asyncio.StreamReader | SSHReader[bytes]
            writer: asyncio.StreamWriter | SSHWriter[bytes]
            if ssh is not None and pool is not None:
                reader, writer = await pool.open_tcp(ssh, address, port, timeout_s=timeout_s)
            else:
                reader, writer = await asyncio.open_connection(address, port)
            try:
                host = f"[{address}]" if ":" in address else address
                extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
                writer.write(
                    f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: shipdeck\r\n"
                    f"{extra}Connection: close\r\n\r\n".encode()
                )
                await writer.drain()
                status_line = await reader.readline()
                parts = status_line.decode("latin-1").split()
                if len(parts) < 2 or not parts[1].isdigit():
                    raise TargetUnreachable(name, f"not an HTTP response: {status_line[:60]!r}")
                response_headers: dict[str, str] = {}
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    key, _, value = line.decode("latin-1").partition(":")
                    response_headers[key.strip().lower()] = value.strip()
                length = response_headers.get("content-length")
                if length is not None and length.isdigit():
                    body = await reader.readexactly(min(int(length), MAX_BODY_BYTES))
                else:
                    body = await reader.read(MAX_BODY_BYTES)
            finally:
                writer.close()
    except TargetUnreachable:
        raise
    except TimeoutError:
        raise TargetUnreachable(name, f"GET {path} timed out after {timeout_s:g}s") from None
    except (OSError, asyncio.IncompleteReadError, ValueError) as error:
        raise TargetUnreachable(name, f"GET {path} failed: {error}") from None
    return HttpResponse(int(parts[1]), response_headers, body)
