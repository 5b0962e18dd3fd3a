"""Rig for the LB writer tests: real nginx and HAProxy on loopback (the rig's
``NginxEdge``/``HaproxyEdge``, each in the test's own directory) in front of
tiny threaded HTTP/1.1 keep-alive servers that answer 200 with their name.

The backend servers run as separate processes (this file is also their entry
point) so that load on them never competes with the test's event loop for the
GIL. Load comes from ``hey``/``wrk`` (bounded by count and time, stopped by
pid) and from ``KeepAliveClient``, an asyncio client that, like browsers and
HTTP libraries, retries a request only when a reused idle keep-alive
connection was closed before any byte of the answer arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from console.demo.rig.daemons import free_port
from console.demo.rig.edge import NginxEdge
from console.demo.rig.haproxy_edge import HaproxyEdge
from engines.lb import Backend, LbSettings, LbWriter, LocalTransport, TrafficState, make_writer
from tests.integration.conftest import running
from tests.require import need_binary

HOST = "127.0.0.1"
SERVICE = "web"
MAX_LOAD_S = 120.0


# ----------------------------------------------------------- backend servers


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tiny"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes: without this, Nagle + delayed
        # ACK cost 40 ms per keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:  # http.server's naming
        body = self.server.body  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        # A backend must not be able to name the release itself: the LB hides this.
        self.send_header("X-Shipdeck-Release", "spoofed-by-backend")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: thousands of requests per test."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 4096  # the default 5 drops SYNs under load
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Health checks and reloads reset connections; that is not news."""


def serve(name: str) -> None:
    """Entry point of a backend process: print the port, serve forever."""
    server = _Server((HOST, 0), _Handler)
    server.body = name.encode()  # type: ignore[attr-defined]
    print(server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.2)


@dataclass
class BackendServer:
    """One upstream process answering every GET with 200 and its name."""

    name: str
    port: int
    process: subprocess.Popen[str]

    @classmethod
    def start(cls, name: str) -> BackendServer:
        process = subprocess.Popen(
            [sys.executable, __file__, name],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.strip().isdigit():
            process.kill()
            raise RuntimeError(f"backend {name} did not start")
        return cls(name, int(line), process)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        if self.process.poll() is None:
            self.process.kill()


@dataclass
class Pair:
    blue: BackendServer
    green: BackendServer


@pytest.fixture(scope="session")
def upstreams() -> Iterator[Pair]:
    """Blue answers ``blue-v1``, green ``green-v2``; shared by every test."""
    pair = Pair(BackendServer.start("blue-v1"), BackendServer.start("green-v2"))
    try:
        yield pair
    finally:
        pair.blue.stop()
        pair.green.stop()


# ------------------------------------------------------------------- edges


@pytest.fixture
def haproxy_edge(tmp_path: Path) -> Iterator[HaproxyEdge]:
    """A real HAProxy (master-worker) in the test's own directory; ``nginx_edge``
    comes from tests/integration/conftest.py."""
    with running(lambda: HaproxyEdge.start(tmp_path / "haproxy")) as edge:
        yield edge


def lb_settings(edge: NginxEdge | HaproxyEdge, **overrides: object) -> LbSettings:
    """The writer settings for a rig edge: its files and commands, bounded timeouts."""
    kind = "haproxy" if isinstance(edge, HaproxyEdge) else "nginx"
    values: dict[str, object] = {
        "name": f"edge-{kind}",
        "kind": kind,
        "config_dir": edge.config_dir,
        "main_config": edge.main_config,
        "validate_argv": tuple(edge.validate_command),
        "reload_argv": tuple(edge.reload_command),
        "timeout_s": 10.0,
        "verify_timeout_s": 3.0,
    }
    if isinstance(edge, HaproxyEdge):
        values.update(stats_socket=edge.stats_socket, master_socket=edge.master_socket)
    values.update(overrides)
    return LbSettings(**values)  # type: ignore[arg-type]


def nginx_settings(edge: NginxEdge, **overrides: object) -> LbSettings:
    return lb_settings(edge, **overrides)


def haproxy_settings(edge: HaproxyEdge, **overrides: object) -> LbSettings:
    return lb_settings(edge, **overrides)


@pytest.fixture
def nginx_writer(nginx_edge: NginxEdge) -> LbWriter:
    return make_writer(nginx_settings(nginx_edge), LocalTransport())


@pytest.fixture
def haproxy_writer(haproxy_edge: HaproxyEdge) -> LbWriter:
    """HAProxy; weight-only changes through the runtime API."""
    return make_writer(haproxy_settings(haproxy_edge), LocalTransport())


@pytest.fixture
def haproxy_reload_writer(haproxy_edge: HaproxyEdge) -> LbWriter:
    """HAProxy; every change through a master-worker reload."""
    return make_writer(haproxy_settings(haproxy_edge, use_runtime_api=False), LocalTransport())


@pytest.fixture(params=["nginx", "haproxy"])
def any_writer(request: pytest.FixtureRequest) -> LbWriter:
    """A test taking this runs once per LB kind."""
    return request.getfixturevalue(f"{request.param}_writer")


@pytest.fixture(params=["nginx", "haproxy_reload", "haproxy"])
def swap_writer(request: pytest.FixtureRequest) -> LbWriter:
    """nginx reload, HAProxy reload, HAProxy runtime API."""
    return request.getfixturevalue(f"{request.param}_writer")


@dataclass(frozen=True)
class Ports:
    listen: int
    preview: int


@pytest.fixture
def ports() -> Ports:
    return Ports(free_port(), free_port())


def blue_green(
    pair: Pair,
    ports: Ports,
    *,
    blue_pct: int = 100,
    service: str = SERVICE,
    green_port: int | None = None,
) -> TrafficState:
    """Blue gets ``blue_pct``, green the rest; the preview shows the color at 0
    (green during a split)."""
    idle = "green" if blue_pct > 0 else "blue"
    return TrafficState(
        service=service,
        listen_address=HOST,
        listen_port=ports.listen,
        preview_port=ports.preview,
        backends=(
            Backend(f"{service}-1-blue", HOST, pair.blue.port, "v1", "blue", blue_pct),
            Backend(
                f"{service}-1-green",
                HOST,
                green_port or pair.green.port,
                "v2",
                "green",
                100 - blue_pct,
            ),
        ),
        preview_color=idle,
    )


# ---------------------------------------------------------------- clients


@dataclass
class Sample:
    """One answered request: when it was sent and answered, on which connection."""

    sent_s: float
    done_s: float
    connection: int
    status: int
    release: str | None
    body: bytes = b""


@dataclass
class KeepAliveClient:
    """``connections`` keep-alive HTTP/1.1 loops against one port, bounded by
    ``max_requests`` and ``max_duration_s``. Records every status. Retries a
    request only if a *reused* connection was closed before any byte of the
    answer came back (what browsers and HTTP libraries do); anything else is
    a failure."""

    port: int
    connections: int = 4
    max_requests: int = 400_000
    max_duration_s: float = MAX_LOAD_S
    path: str = "/"
    pause_s: float = 0.0  # between requests on one connection: a bounded rate
    samples: list[Sample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    idle_close_retries: int = 0
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def start(self) -> None:
        self._deadline = time.monotonic() + self.max_duration_s
        self._tasks = [asyncio.create_task(self._loop(i)) for i in range(self.connections)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def _loop(self, index: int) -> None:
        request = f"GET {self.path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        reused = False
        while not self._stop.is_set() and len(self.samples) < self.max_requests:
            if time.monotonic() > self._deadline:
                break
            if writer is None:
                try:
                    reader, writer = await asyncio.open_connection(HOST, self.port)
                except OSError as error:
                    self.failures.append(f"connect: {error}")
                    await asyncio.sleep(0.01)
                    continue
                writer.transport.get_extra_info("socket").setsockopt(
                    socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
                )
                reused = False
            assert reader is not None
            sent = time.monotonic()
            got_bytes = False
            try:
                writer.write(request)
                status_line = await asyncio.wait_for(reader.readline(), 10.0)
                got_bytes = bool(status_line)
                if not status_line:
                    raise ConnectionResetError("closed before the answer")
                status = int(status_line.split()[1])
                length, release, close = 0, None, False
                while True:
                    line = await asyncio.wait_for(reader.readline(), 10.0)
                    if line in (b"\r\n", b""):
                        break
                    key, _, value = line.decode("latin-1").partition(":")
                    key, value = key.strip().lower(), value.strip()
                    if key == "content-length":
                        length = int(value)
                    elif key == "x-shipdeck-release":
                        release = value
                    elif key == "connection" and value.lower() == "close":
                        close = True
                body = await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as error:
                writer.close()
                writer = None
                if reused and not got_bytes:
                    self.idle_close_retries += 1  # retry on a fresh connection
                else:
                    self.failures.append(f"{type(error).__name__}: {error}")
                continue
            self.samples.append(Sample(sent, time.monotonic(), index, status, release, body[:32]))
            reused = True
            if self.pause_s:
                await asyncio.sleep(self.pause_s)
            if close:
                writer.close()
                writer = None
        if writer is not None:
            writer.close()

    @property
    def non_2xx(self) -> int:
        return sum(1 for s in self.samples if not 200 <= s.status < 300)


@contextlib.asynccontextmanager
async def keepalive_load(port: int, connections: int = 4) -> AsyncIterator[KeepAliveClient]:
    client = KeepAliveClient(port, connections)
    client.start()
    try:
        yield client
    finally:
        await client.stop()


@dataclass
class ToolReport:
    """What hey or wrk printed, reduced to counts."""

    requests: int
    non_2xx: int
    errors: int
    read_errors: int
    text: str


class LoadTool:
    """``hey`` or ``wrk`` against a loopback URL, bounded by time, stopped
    early with SIGINT (by pid) so it prints its summary."""

    def __init__(self, argv: list[str]) -> None:
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    @classmethod
    def hey(cls, port: int, connections: int = 16) -> LoadTool:
        url = f"http://{HOST}:{port}/"
        return cls([need_binary("hey"), "-z", f"{int(MAX_LOAD_S)}s", "-c", str(connections), url])

    @classmethod
    def wrk(cls, port: int, connections: int = 16) -> LoadTool:
        url = f"http://{HOST}:{port}/"
        return cls([need_binary("wrk"), "-t2", f"-c{connections}", f"-d{int(MAX_LOAD_S)}s", url])

    def stop(self) -> ToolReport:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGINT)
        out, _ = self.process.communicate(timeout=30)
        if "Socket errors" in out or "requests in" in out:
            return parse_wrk(out)
        return parse_hey(out)


def parse_hey(text: str) -> ToolReport:
    statuses = {int(c): int(n) for c, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", text)}
    _, has_errors, error_part = text.partition("Error distribution")
    errors = sum(int(n) for n in re.findall(r"^\s+\[(\d+)\]\s+\S", error_part, re.M))
    return ToolReport(
        requests=sum(statuses.values()),
        non_2xx=sum(n for c, n in statuses.items() if not 200 <= c < 300),
        errors=errors,
        read_errors=0,
        text=text,
    )


def parse_wrk(text: str) -> ToolReport:
    requests = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    non_2xx_match = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    connect, read, write, timeout = (
        (int(g) for g in socket_errors.groups()) if socket_errors else (0, 0, 0, 0)
    )
    return ToolReport(
        requests=requests,
        non_2xx=int(non_2xx_match.group(1)) if non_2xx_match else 0,
        errors=connect + write + timeout,
        read_errors=read,
        text=text,
    )


if __name__ == "__main__":
    serve(sys.argv[1])
