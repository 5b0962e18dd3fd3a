"""engines.http, shipdeck's one HTTP client, against real loopback servers:
body limit, overall timeout, IPv6 Host, non-HTTP answers, SSH-style openers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from engines.errors import EngineOperationFailed, TargetUnreachable
from engines.http import EndpointUnreachable, host_header, http_get

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
MIB = 1024 * 1024


@contextlib.asynccontextmanager
async def serving(handler: Handler, host: str = "127.0.0.1") -> AsyncIterator[int]:
    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            await handler(reader, writer)
        writer.close()

    server = await asyncio.start_server(guarded, host, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


def answering(head: bytes, body: bytes = b"", seen: list[bytes] | None = None) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        if seen is not None:
            seen.append(request)
        writer.write(head + body)
        await writer.drain()

    return handler


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


async def test_a_get_returns_status_lowercased_headers_and_body() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Shipdeck-Release: v7\r\n\r\n"
    async with serving(answering(head, b"ok")) as port:
        response = await http_get("127.0.0.1", port, "/version?user=3")

    assert (response.status, response.body) == (200, b"ok")
    assert response.headers["x-shipdeck-release"] == "v7"


async def test_a_streamed_100_mb_body_is_cut_at_the_limit_quickly() -> None:
    sent = [0]

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")  # no length: read to EOF
        chunk = b"x" * MIB
        while sent[0] < 100 * MIB:
            writer.write(chunk)
            await writer.drain()
            sent[0] += len(chunk)

    started = time.monotonic()
    async with serving(endless) as port:
        with pytest.raises(EngineOperationFailed, match="larger than the 1048576-byte limit"):
            await http_get("127.0.0.1", port, "/", max_body_bytes=MIB)
        elapsed_s = time.monotonic() - started

    assert elapsed_s < 2.0
    assert sent[0] < 32 * MIB  # the client hung up: the server stopped far short of 100 MB


async def test_a_declared_length_over_the_limit_fails_before_the_body_is_read() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n"
    async with serving(answering(head)) as port:
        with pytest.raises(EngineOperationFailed, match="content-length 104857600"):
            await http_get("127.0.0.1", port, "/metrics", max_body_bytes=MIB)


async def test_a_silent_server_times_out_as_unreachable() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    started = time.monotonic()
    async with serving(silent) as port:
        with pytest.raises(EndpointUnreachable, match=r"GET /healthz timed out after 0\.2s"):
            await http_get("127.0.0.1", port, "/healthz", timeout_s=0.2)
    assert time.monotonic() - started < 1.0


async def test_a_trickling_server_cannot_stretch_the_overall_timeout() -> None:
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):  # each byte well within the per-read timeout
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.02)

    started = time.monotonic()
    async with serving(trickle) as port:
        with pytest.raises(EndpointUnreachable, match="timed out after 0.3s"):
            await http_get("127.0.0.1", port, "/", timeout_s=0.3)
    assert time.monotonic() - started < 1.0


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")
async def test_an_ipv6_literal_is_bracketed_in_the_host_header() -> None:
    seen: list[bytes] = []
    head = b"HTTP/1.1 204 No Content\r\n\r\n"
    async with serving(answering(head, seen=seen), host="::1") as port:
        response = await http_get("::1", port, "/healthz")

    assert response.status == 204
    assert f"host: [::1]:{port}\r\n".encode() in seen[0].lower()


def test_the_host_header_brackets_ipv6_literals_only() -> None:
    assert host_header("::1", 8080) == "[::1]:8080"
    assert host_header("fd00::5", 80) == "[fd00::5]:80"
    assert host_header("127.0.0.1", 8080) == "127.0.0.1:8080"
    assert host_header("web-1", 8080) == "web-1:8080"


async def test_a_non_http_answer_fails_with_one_clear_line() -> None:
    async with serving(answering(b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n\r\n")) as port:
        with pytest.raises(EndpointUnreachable) as failed:
            await http_get("127.0.0.1", port, "/", target_name="web-1")

    message = str(failed.value)
    assert message.startswith("web-1: GET / got no HTTP answer")
    assert "\n" not in message


async def test_a_closed_port_is_unreachable_naming_the_target() -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    with pytest.raises(EndpointUnreachable) as failed:
        await http_get("127.0.0.1", port, "/healthz", timeout_s=1)
    assert failed.value.target == f"127.0.0.1:{port}"
    assert "GET /healthz failed" in failed.value.cause


async def test_a_path_that_could_smuggle_a_header_is_refused() -> None:
    with pytest.raises(TargetUnreachable, match="unsafe request path"):
        await http_get("127.0.0.1", 1, "/x HTTP/1.1\r\nHost: evil")


async def test_the_stream_comes_from_the_opener_as_an_ssh_channel_would() -> None:
    opened: list[tuple[str, int]] = []

    async def opener(host: str, port: int, timeout_s: float) -> tuple[Any, Any]:
        opened.append((host, port))
        return await asyncio.open_connection("127.0.0.1", real_port)

    head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    async with serving(answering(head, b"green")) as real_port:
        # The address is where the remote host sees the instance; only the opener dials.
        response = await http_get("::1", 9999, "/", opener=opener)

    assert opened == [("::1", 9999)]
    assert response.body == b"green"


async def test_a_failing_ssh_opener_raises_its_own_engine_error_unchanged() -> None:
    async def lost(host: str, port: int, timeout_s: float) -> tuple[Any, Any]:
        raise TargetUnreachable("web-1", "SSH connection lost")

    with pytest.raises(TargetUnreachable) as failed:
        await http_get("127.0.0.1", 8080, "/", opener=lost)
    assert not isinstance(failed.value, EndpointUnreachable)
    assert failed.value.cause == "SSH connection lost"
