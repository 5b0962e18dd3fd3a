"""A bounded, loopback-only HTTP load generator with keep-alive and user ids.

Used by the demo (steady realistic traffic), integration tests (zero failed
requests during swaps) and benchmarks. It behaves like a browser or an HTTP
library: a request on a kept-alive connection that the server closed while
idle is retried once on a fresh connection; every other failure counts.

It refuses any target that is not on the loopback range, and stops by itself
at ``max_requests`` or ``duration_s``, whichever comes first.

It keeps its own minimal HTTP/1.1 client instead of ``engines.http`` (httpx):
issue 14 allows that only if httpx costs it more than 10% of its request
rate, and ``bench/bench_http.py`` measured 22.6k requests/s raw against 1.7k/s
with an httpx ``AsyncClient`` per connection (8 keep-alive connections,
unpaced, 2-core machine): httpx costs 92%. The ``Host`` header comes from
``engines.http.host_header``, so IPv6 literals are bracketed the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from engines.http import host_header


@dataclass
class LoadStats:
    """What the clients saw. ``failed`` = non-2xx answers + requests with no answer."""

    requests: int = 0
    ok: int = 0
    non_2xx: int = 0
    errors: int = 0
    retried_idle_closes: int = 0
    by_status: Counter[str] = field(default_factory=Counter)  # "200", "503", "error"
    by_release: Counter[str] = field(default_factory=Counter)
    recent: deque[tuple[float, str, int]] = field(
        default_factory=lambda: deque(maxlen=2000)
    )  # (t, release, status)
    latencies_s: deque[float] = field(default_factory=lambda: deque(maxlen=20000))

    @property
    def failed(self) -> int:
        return self.non_2xx + self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "ok": self.ok,
            "failed": self.failed,
            "non_2xx": self.non_2xx,
            "errors": self.errors,
            "retried_idle_closes": self.retried_idle_closes,
            "by_status": dict(self.by_status),
            "by_release": dict(self.by_release),
        }

    def release_share_since(self, since: float) -> dict[str, float]:
        recent = [r for t, r, _ in self.recent if t >= since]
        if not recent:
            return {}
        counts = Counter(recent)
        return {release: n / len(recent) for release, n in counts.items()}


def ensure_loopback(host: str) -> None:
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        if host == "localhost":
            return
    raise ValueError(f"load generator refuses non-loopback target {host!r}")


class _Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._host_header = host_header(host, port)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = False

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.used = False

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def get(self, path: str, timeout_s: float) -> tuple[int, dict[str, str]]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {self._host_header}\r\n"
            "User-Agent: shipdeck-load\r\n\r\n".encode()
        )
        async with asyncio.timeout(timeout_s):
            await self.writer.drain()
            status_line = await self.reader.readline()
            if not status_line:
                raise ConnectionResetError("connection closed before the status line")
            status = int(status_line.split()[1])
            headers: dict[str, str] = {}
            while True:
                line = await self.reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                key, _, value = line.decode("latin-1").partition(":")
                headers[key.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            if length:
                await self.reader.readexactly(length)
        if headers.get("connection", "").lower() == "close":
            self.close()
        self.used = True
        return status, headers


async def run_load(
    host: str,
    port: int,
    *,
    duration_s: float,
    max_requests: int,
    rate_per_s: float = 200.0,
    concurrency: int = 8,
    paths: tuple[str, ...] = ("/", "/checkout"),
    users: int = 1000,
    timeout_s: float = 5.0,
    stats: LoadStats | None = None,
    stop: asyncio.Event | None = None,
    release_header: str = "x-shipdeck-release",
) -> LoadStats:
    """Send GETs with ``?user=N`` at about ``rate_per_s`` until a bound is hit."""
    ensure_loopback(host)
    if duration_s <= 0 or max_requests <= 0:
        raise ValueError("load must be bounded: duration_s and max_requests must be positive")
    stats = stats or LoadStats()
    stop = stop or asyncio.Event()
    deadline = time.monotonic() + duration_s
    budget = [max_requests]
    per_worker_interval = concurrency / rate_per_s if rate_per_s > 0 else 0.0
    rng = random.Random(7)

    async def worker() -> None:
        conn = _Connection(host, port)
        next_at = time.monotonic() + rng.random() * per_worker_interval
        try:
            while not stop.is_set() and time.monotonic() < deadline and budget[0] > 0:
                budget[0] -= 1
                delay = next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_at = max(next_at + per_worker_interval, time.monotonic())
                path = f"{rng.choice(paths)}?user={rng.randrange(users)}"
                started = time.monotonic()
                stats.requests += 1
                try:
                    try:
                        status, headers = await conn.get(path, timeout_s)
                    except (
                        ConnectionResetError,
                        asyncio.IncompleteReadError,
                        BrokenPipeError,
                    ) as error:
                        # An idle keep-alive connection closed by the server: retry once, fresh.
                        if not conn.used:
                            raise error
                        conn.close()
                        stats.retried_idle_closes += 1
                        status, headers = await conn.get(path, timeout_s)
                except (OSError, TimeoutError, ValueError, IndexError, asyncio.IncompleteReadError):
                    stats.errors += 1
                    stats.by_status["error"] += 1
                    conn.close()
                    await asyncio.sleep(0.05)
                    continue
                stats.latencies_s.append(time.monotonic() - started)
                release = headers.get(release_header, "?")
                stats.by_status[str(status)] += 1
                stats.by_release[release] += 1
                stats.recent.append((time.monotonic(), release, status))
                if 200 <= status < 300:
                    stats.ok += 1
                else:
                    stats.non_2xx += 1
        finally:
            conn.close()

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*workers, return_exceptions=True)
    return stats
