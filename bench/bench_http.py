"""Load generator request rate: its raw HTTP/1.1 client vs httpx, same run.

    .venv/bin/python bench/bench_http.py [--seconds S] [--rounds N] [--connections C]

``engines.loadgen`` may keep a hand-written client only while httpx would cost
it more than 10% of its request rate (issue 14). This measures exactly that:
the same ``run_load`` loop (unpaced, ``C`` keep-alive connections) against a
fast local HTTP server in its own process, once with the loadgen's raw
connection and once with an httpx ``AsyncClient`` per connection (keep-alive,
one connection each, ``trust_env=False``) in its place. Rounds alternate so
drift on a shared machine hits both alike; each figure is the median.

Target: the decision in ``engines.loadgen`` holds, i.e. httpx costs more than
10% of the raw rate (else the load generator should switch). Exit 1 if not.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from engines import loadgen  # noqa: E402

HOST = "127.0.0.1"
MAX_COST = 0.10
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n"
    b"x-shipdeck-release: bench-v1\r\n\r\nbench-v1\n"
)


class _Answer(asyncio.Protocol):
    """Keep-alive HTTP/1.1 server protocol: one fixed answer per request head."""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        requests = self.buffer.count(b"\r\n\r\n")
        if requests:
            self.buffer = self.buffer.rsplit(b"\r\n\r\n", 1)[1]
            self.transport.write(RESPONSE * requests)


async def serve() -> None:
    server = await asyncio.get_running_loop().create_server(_Answer, HOST, 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


class HttpxConnection:
    """``loadgen._Connection``'s interface over httpx, as the loadgen would use it."""

    def __init__(self, host: str, port: int) -> None:
        self.base = f"http://{host}:{port}"
        self.client: httpx.AsyncClient | None = None
        self.used = False

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            # The loadgen closes synchronously; let the client close on the loop.
            asyncio.get_running_loop().create_task(client.aclose())

    async def get(self, path: str, timeout_s: float) -> tuple[int, dict[str, str]]:
        if self.client is None:
            self.client = httpx.AsyncClient(
                base_url=self.base,
                timeout=httpx.Timeout(timeout_s),
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                headers={"User-Agent": "shipdeck-load"},
                trust_env=False,
            )
        response = await self.client.get(path)
        self.used = True
        return response.status_code, {k.lower(): v for k, v in response.headers.items()}


async def rate(port: int, seconds: float, connections: int, client: str) -> float:
    patch = (
        mock.patch.object(loadgen, "_Connection", HttpxConnection)
        if client == "httpx"
        else mock.patch.object(loadgen, "_Connection", loadgen._Connection)
    )
    with patch:
        started = time.monotonic()
        stats = await loadgen.run_load(
            HOST,
            port,
            duration_s=seconds,
            max_requests=10**9,
            rate_per_s=0,
            concurrency=connections,
        )
        elapsed = time.monotonic() - started
    if stats.failed or stats.ok == 0:
        raise RuntimeError(f"{client}: {stats.failed} failed of {stats.requests} requests")
    return stats.ok / elapsed


async def run(seconds: float, rounds: int, connections: int) -> int:
    server = subprocess.Popen(
        [sys.executable, __file__, "--server"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        await rate(port, 0.5, connections, "raw")  # warm up both sides
        figures: dict[str, list[float]] = {"raw": [], "httpx": []}
        for _ in range(rounds):
            for client in figures:
                figures[client].append(await rate(port, seconds, connections, client))
    finally:
        server.terminate()
        server.wait(timeout=5)
    raw, lib = (statistics.median(figures[c]) for c in ("raw", "httpx"))
    cost = 1 - lib / raw
    print(f"\nloadgen request rate, {connections} keep-alive connections, unpaced,")
    print(f"median of {rounds} rounds of {seconds:g} s (server in its own process)\n")
    print(f"{'client':<8}{'requests/s':>12}{'vs raw':>9}   rounds")
    for client, values in figures.items():
        rounds_text = " ".join(f"{v:.0f}" for v in values)
        print(
            f"{client:<8}{statistics.median(values):>12.0f}{statistics.median(values) / raw:>8.2f}x   {rounds_text}"
        )
    print(f"\nhttpx costs {cost:.0%} of the raw rate (threshold {MAX_COST:.0%}): ", end="")
    if cost > MAX_COST:
        print("the load generator keeps its raw client")
        return 0
    print("MISSED: the load generator should switch to httpx")
    return 1


def main() -> int:
    if sys.argv[1:2] == ["--server"]:
        asyncio.run(serve())
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    return asyncio.run(run(args.seconds, args.rounds, args.connections))


if __name__ == "__main__":
    sys.exit(main())
