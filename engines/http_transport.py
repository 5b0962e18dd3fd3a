"""The httpx and httpcore machinery behind ``engines.http.http_get``.

Imported on the first request, never at ``import engines.http`` (see there):
an httpcore network backend over any TCP opener (a socket, or an SSH
direct-tcpip channel), an httpx transport that speaks HTTP/1.1 on one fresh
connection per request, and the bounded read of a body.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

import asyncssh
import httpcore
import httpx

from engines.errors import EngineError, EngineOperationFailed
from engines.http import (
    _REQUEST_HEADERS,
    DEFAULT_TIMEOUT_S,
    EndpointUnreachable,
    HttpResponse,
    TcpOpener,
    _Reader,
    _Writer,
)


class _Stream(httpcore.AsyncNetworkStream):
    """An httpcore stream over an asyncio or asyncssh reader/writer pair."""

    def __init__(self, reader: _Reader, writer: _Writer) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError:
            raise httpcore.ReadTimeout(f"no data within {timeout:g}s") from None
        except (OSError, asyncssh.Error) as error:
            raise httpcore.ReadError(_describe(error)) from error

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError:
            raise httpcore.WriteTimeout(f"could not send within {timeout:g}s") from None
        except (OSError, asyncssh.Error) as error:
            raise httpcore.WriteError(_describe(error)) from error

    async def aclose(self) -> None:
        # Closing a transport cannot usefully fail; there is nothing to wait for.
        self._writer.close()

    def get_extra_info(self, info: str) -> Any:
        return self._writer.get_extra_info(info)


class StreamBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network layer over a :data:`TcpOpener`: the one place where
    "directly" and "through SSH" differ."""

    def __init__(self, opener: TcpOpener) -> None:
        self._open = opener

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        timeout_s = DEFAULT_TIMEOUT_S if timeout is None else timeout
        try:
            reader, writer = await self._open(host, port, timeout_s)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"no connection within {timeout_s:g}s") from None
        except (OSError, asyncssh.Error) as error:
            raise httpcore.ConnectError(_describe(error)) from error
        return _Stream(reader, writer)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("UNIX sockets are not an HTTP target here")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class BackendTransport(httpx.AsyncBaseTransport):
    """An httpx transport that opens one connection per request through a
    :class:`StreamBackend` and speaks HTTP/1.1 on it with httpcore's
    ``AsyncHTTP11Connection``. httpx's own ``AsyncHTTPTransport`` cannot take
    a network backend, and a connection pool would only add locking to every
    probe: shipdeck never reuses a connection. Plain ``http`` only, so no TLS
    context is ever built."""

    def __init__(self, opener: TcpOpener) -> None:
        self._backend = StreamBackend(opener)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"only http:// is supported, not {url}")
        port = url.port or 80
        timeouts = request.extensions.get("timeout", {})
        stream = await self._backend.connect_tcp(url.host, port, timeout=timeouts.get("connect"))
        connection = httpcore.AsyncHTTP11Connection(
            origin=httpcore.Origin(b"http", url.raw_host, port), stream=stream
        )
        try:
            response = await connection.handle_async_request(
                httpcore.Request(
                    method=request.method,
                    url=httpcore.URL(
                        scheme=b"http", host=url.raw_host, port=port, target=url.raw_path
                    ),
                    headers=request.headers.raw,
                    content=_chunks(request.stream),
                    extensions=request.extensions,
                )
            )
        except BaseException:
            await connection.aclose()
            raise
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response, connection),
            extensions=response.extensions,
        )


async def _chunks(stream: httpx.AsyncByteStream | httpx.SyncByteStream) -> AsyncIterator[bytes]:
    if isinstance(stream, httpx.AsyncByteStream):
        async for chunk in stream:
            yield chunk
    else:
        for chunk in stream:
            yield chunk


class _Body(httpx.AsyncByteStream):
    """The response body; closing it closes the connection (never reused)."""

    def __init__(
        self, response: httpcore.Response, connection: httpcore.AsyncHTTP11Connection
    ) -> None:
        self._response = response
        self._connection = connection

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.aiter_stream():
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._response.aclose()
        finally:
            await self._connection.aclose()


async def fetch(
    opener: TcpOpener,
    address: str,
    port: int,
    path: str,
    name: str,
    timeout_s: float,
    headers: dict[str, str] | None,
    read_body: bool,
    max_body_bytes: int,
) -> HttpResponse:
    """``http_get`` once its arguments are checked: see there."""
    url = httpx.URL(scheme="http", host=address, port=port, raw_path=path.encode("ascii"))
    client = httpx.AsyncClient(
        transport=BackendTransport(opener),
        timeout=httpx.Timeout(timeout_s),
        headers=_REQUEST_HEADERS,
        follow_redirects=False,
        trust_env=False,
    )
    try:
        async with (
            asyncio.timeout(timeout_s),
            client,
            client.stream("GET", url, headers=headers) as response,
        ):
            body = await _bounded_body(response, name, path, max_body_bytes) if read_body else b""
    except EngineError:
        raise
    except (TimeoutError, httpx.TimeoutException, httpcore.TimeoutException):
        # Our overall deadline, or httpx's per-phase one (connect, read, write).
        raise EndpointUnreachable(name, f"GET {path} timed out after {timeout_s:g}s") from None
    except (httpx.RemoteProtocolError, httpcore.RemoteProtocolError) as error:
        raise EndpointUnreachable(
            name, f"GET {path} got no HTTP answer: {_describe(error)}"
        ) from None
    except (httpx.HTTPError, httpcore.NetworkError, httpcore.ProtocolError) as error:
        raise EndpointUnreachable(name, f"GET {path} failed: {_describe(error)}") from None
    return HttpResponse(
        response.status_code, {k.lower(): v for k, v in response.headers.items()}, body
    )


async def _bounded_body(response: httpx.Response, name: str, path: str, limit: int) -> bytes:
    """At most ``limit`` bytes; more is an error, found out without reading more."""
    too_large = f"GET {path}: the body is larger than the {limit}-byte limit"
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise EngineOperationFailed(name, f"{too_large} (content-length {declared})")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > limit:
            raise EngineOperationFailed(name, too_large)
        chunks.append(chunk)
    return b"".join(chunks)


def _describe(error: BaseException) -> str:
    """One line: the message, or the type when there is none."""
    text = " ".join(str(error).split())
    return text or type(error).__name__
