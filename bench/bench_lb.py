"""LB swap speed: "swap" → 100% of requests on the new color, under load.

    .venv/bin/python bench/bench_lb.py [--swaps N] [--connections C]

For nginx reload, HAProxy reload and HAProxy runtime API, the shipdeck writer
(render, staged checker, atomic rename, reload or runtime API, verify) is
measured side by side with the raw LB doing the same swap the fastest way it
can (the physical limit): a hand-written config + plain ``nginx -s reload``, a
hand-written config + the master CLI ``reload``, a raw ``set server … weight``
pair over the stats socket. Same backends, same keep-alive client, same
measure: per swap, the time until every client connection gets only the new
color. Also counted: non-2xx answers and failed requests (a reused idle
keep-alive connection closed by the LB is retried, as browsers do).

Targets (p95 of time to all-new): nginx and HAProxy reload ≤ 250 ms, HAProxy
runtime API ≤ 20 ms; zero non-2xx and zero failed requests. Exit 1 if missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.demo.rig.daemons import RigUnavailable, free_port  # noqa: E402
from console.demo.rig.edge import NginxEdge  # noqa: E402
from console.demo.rig.haproxy_edge import HaproxyEdge  # noqa: E402
from engines.errors import TargetUnreachable  # noqa: E402
from engines.lb import LocalTransport, make_writer  # noqa: E402
from tests.integration.lb.conftest import (  # noqa: E402
    HOST,
    BackendServer,
    KeepAliveClient,
    Pair,
    Ports,
    blue_green,
    haproxy_settings,
    nginx_settings,
)

TARGET_P95_MS = {"nginx reload": 250.0, "haproxy reload": 250.0, "haproxy runtime API": 20.0}
RELOAD_GAP_S = 0.5  # swaps start this far apart: each converges before the next
RUNTIME_GAP_S = 0.15
# Each connection waits this long between requests: a bounded load (~2-3k
# requests/s here) that leaves the 2 cores some room, instead of a closed loop
# that saturates them and measures the Python client more than the LB.
CLIENT_PAUSE_S = 0.002

Swap = Callable[[str], Awaitable[None]]  # color → make it take all traffic


@dataclass
class Figures:
    converge_ms: list[float]
    action_ms: list[float]
    non_2xx: int
    failures: int
    idle_retries: int

    def p(self, q: float, values: list[float] | None = None) -> float:
        data = sorted(self.converge_ms if values is None else values)
        return data[min(len(data) - 1, int(q * len(data)))]


def color_of(body: bytes) -> str:
    return body.split(b"-", 1)[0].decode(errors="replace")


async def measure(port: int, swap: Swap, swaps: int, connections: int, gap_s: float) -> Figures:
    """Swap ``swaps`` times under keep-alive load from a separate client
    process (so it never competes with the writer for this event loop), at
    least ``gap_s`` apart; then, per swap, the time until each connection's
    answers are all the new color (monotonic clocks agree across processes)."""
    with tempfile.NamedTemporaryFile(prefix="bench-lb-", suffix=".log", delete=False) as out:
        log = Path(out.name)
    client = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--client", str(port), str(connections), str(log)
    )
    await asyncio.sleep(0.5)
    starts, action = [], []
    try:
        for index in range(swaps):
            new = "green" if index % 2 == 0 else "blue"
            started = time.monotonic()
            await swap(new)
            action.append((time.monotonic() - started) * 1000)
            starts.append((started, new))
            await asyncio.sleep(max(0.0, started + gap_s - time.monotonic()))
    finally:
        client.send_signal(signal.SIGINT)
        await client.wait()
    lines = log.read_text().splitlines()
    log.unlink()
    non_2xx, failures, idle = (int(v) for v in lines[0].split())
    samples = [(float(t), int(c), color) for t, c, color in (ln.split() for ln in lines[1:])]
    ends = [t for t, _ in starts[1:]] + [time.monotonic()]
    converge = [
        _converged(samples, started, end, new, connections) * 1000
        for (started, new), end in zip(starts, ends, strict=True)
    ]
    return Figures(converge, action, non_2xx, failures, idle)


def _converged(
    samples: list[tuple[float, int, str]], started: float, end: float, new: str, connections: int
) -> float:
    """Seconds from ``started`` to the first answer of each connection's final
    all-new run before ``end`` (the next swap)."""
    first_new: dict[int, float | None] = {}
    for done, connection, color in samples:
        if not started <= done < end:
            continue
        if color == new:
            if first_new.get(connection) is None:
                first_new[connection] = done
        else:
            first_new[connection] = None
    if len(first_new) < connections or any(t is None for t in first_new.values()):
        raise RuntimeError(f"a connection never converged to {new} before the next swap")
    return max(t for t in first_new.values() if t is not None) - started


async def client_main(port: int, connections: int, log: Path) -> None:
    """The load process: keep-alive client until SIGINT, then write the log."""
    client = KeepAliveClient(
        port, connections=connections, max_duration_s=900, pause_s=CLIENT_PAUSE_S
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
    client.start()
    await stop.wait()
    await client.stop()
    lines = [f"{client.non_2xx} {len(client.failures)} {client.idle_close_retries}"]
    lines += [f"{s.done_s:.6f} {s.connection} {color_of(s.body)}" for s in client.samples]
    log.write_text("\n".join(lines) + "\n")


async def run(swaps: int, connections: int, workdir: Path) -> int:
    pair = Pair(BackendServer.start("blue-v1"), BackendServer.start("green-v2"))
    nginx = NginxEdge.start(workdir / "nginx")
    haproxy = HaproxyEdge.start(workdir / "haproxy")
    results: dict[str, tuple[Figures, Figures]] = {}
    try:
        results["nginx reload"] = (
            await measure(*await nginx_writer(nginx, pair), swaps, connections, RELOAD_GAP_S),
            await measure(*await nginx_raw(nginx, pair), swaps, connections, RELOAD_GAP_S),
        )
        results["haproxy reload"] = (
            await measure(
                *await haproxy_writer(haproxy, pair, False), swaps, connections, RELOAD_GAP_S
            ),
            await measure(
                *await haproxy_raw(haproxy, pair, False), swaps, connections, RELOAD_GAP_S
            ),
        )
        results["haproxy runtime API"] = (
            await measure(
                *await haproxy_writer(haproxy, pair, True), swaps, connections, RUNTIME_GAP_S
            ),
            await measure(
                *await haproxy_raw(haproxy, pair, True), swaps, connections, RUNTIME_GAP_S
            ),
        )
    finally:
        haproxy.stop()
        nginx.stop()
        pair.blue.stop()
        pair.green.stop()
    return report(results, swaps, connections)


def report(results: dict[str, tuple[Figures, Figures]], swaps: int, connections: int) -> int:
    print(f"\nswap → 100% of requests on the new color, {swaps} swaps, {connections} keep-alive")
    print("connections; raw = the LB alone, by hand (same backends, same client, same measure)\n")
    header = (
        f"{'mode':<21}{'shipdeck p50':>13}{'p95':>9}{'raw p50':>10}{'p95':>9}"
        f"{'apply p50':>11}{'non-2xx':>9}{'failed':>8}{'idle-retry':>11}  target p95"
    )
    print(header)
    print("-" * len(header))
    missed = []
    for mode, (ours, raw) in results.items():
        target = TARGET_P95_MS[mode]
        ok = ours.p(0.95) <= target and ours.non_2xx == ours.failures == 0
        if not ok:
            missed.append(mode)
        print(
            f"{mode:<21}{ours.p(0.5):>10.1f} ms{ours.p(0.95):>6.1f} ms"
            f"{raw.p(0.5):>7.1f} ms{raw.p(0.95):>6.1f} ms"
            f"{statistics.median(ours.action_ms):>8.1f} ms"
            f"{ours.non_2xx + raw.non_2xx:>9}{ours.failures + raw.failures:>8}"
            f"{ours.idle_retries + raw.idle_retries:>11}  ≤ {target:g} ms {'ok' if ok else 'MISSED'}"
        )
    print(
        "\n'apply' is the writer's whole call (for the runtime API it includes persisting the"
        "\nchecked file after traffic has moved); 'idle-retry' counts closed idle keep-alive"
        "\nconnections the client retried (what wrk reports as read errors)."
    )
    if missed:
        print(f"\nMISSED: {', '.join(missed)}")
        return 1
    return 0


# ---------------------------------------------------------------- the modes


async def nginx_writer(edge: NginxEdge, pair: Pair) -> tuple[int, Swap]:
    ports = Ports(free_port(), free_port())
    writer = make_writer(nginx_settings(edge), LocalTransport())
    await writer.apply(blue_green(pair, ports, blue_pct=100))

    async def swap(color: str) -> None:
        await writer.apply(blue_green(pair, ports, blue_pct=100 if color == "blue" else 0))

    return ports.listen, swap


async def nginx_raw(edge: NginxEdge, pair: Pair) -> tuple[int, Swap]:
    port = free_port()
    path = edge.config_dir / "raw.conf"

    def config(color: str) -> str:
        upstream = pair.blue.port if color == "blue" else pair.green.port
        return (
            f"upstream raw {{ server {HOST}:{upstream}; keepalive 32; }}\n"
            f"server {{ listen {HOST}:{port}; location / {{ proxy_pass http://raw;"
            ' proxy_http_version 1.1; proxy_set_header Connection ""; } }\n'
        )

    async def swap(color: str) -> None:
        path.with_suffix(".tmp").write_text(config(color))
        os.replace(path.with_suffix(".tmp"), path)
        await _run(edge.reload_command)

    path.write_text(config("blue"))
    await _run(edge.reload_command)
    await asyncio.sleep(0.3)
    return port, swap


async def haproxy_writer(edge: HaproxyEdge, pair: Pair, runtime: bool) -> tuple[int, Swap]:
    ports = Ports(free_port(), free_port())
    service = "rt" if runtime else "web"
    writer = make_writer(haproxy_settings(edge, use_runtime_api=runtime), LocalTransport())
    await writer.apply(blue_green(pair, ports, blue_pct=100, service=service))

    async def swap(color: str) -> None:
        state = blue_green(pair, ports, blue_pct=100 if color == "blue" else 0, service=service)
        result = await writer.apply(state)
        assert result.method == ("runtime_api" if runtime else "reload"), result

    return ports.listen, swap


async def haproxy_raw(edge: HaproxyEdge, pair: Pair, runtime: bool) -> tuple[int, Swap]:
    port = free_port()
    path = edge.config_dir / ("raw-rt.cfg" if runtime else "raw.cfg")
    name = "rawrt" if runtime else "raw"

    def config(color: str) -> str:
        blue, green = (100, 0) if color == "blue" else (0, 100)
        return (
            f"frontend fe_{name}\n    bind {HOST}:{port}\n    default_backend {name}\n"
            f"backend {name}\n    balance roundrobin\n"
            f"    server blue {HOST}:{pair.blue.port} weight {blue}\n"
            f"    server green {HOST}:{pair.green.port} weight {green}\n"
        )

    transport = LocalTransport()

    async def reload(color: str) -> None:
        path.with_suffix(".tmp").write_text(config(color))
        os.replace(path.with_suffix(".tmp"), path)
        deadline = time.monotonic() + 5.0
        while True:  # the master re-executes itself on reload: refused until it is back
            try:
                await transport.socket_command(edge.master_socket, "reload", 5.0)
                return
            except TargetUnreachable:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.005)

    async def set_weights(color: str) -> None:
        old = "green" if color == "blue" else "blue"
        command = f"set server {name}/{color} weight 100; set server {name}/{old} weight 0"
        await transport.socket_command(edge.stats_socket, command, 5.0)

    await reload("blue")
    await asyncio.sleep(0.5)
    return port, (set_weights if runtime else reload)


async def _run(argv: list[str]) -> None:
    rc, _, err = await LocalTransport().run(argv, 10.0)
    if rc != 0:
        raise RuntimeError(f"{argv[0]} failed: {err.strip()}")


def main() -> int:
    if sys.argv[1:2] == ["--client"]:
        port, connections, log = sys.argv[2:5]
        asyncio.run(client_main(int(port), int(connections), Path(log)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swaps", type=int, default=100)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shipdeck-bench-lb-") as workdir:
        try:
            return asyncio.run(run(args.swaps, args.connections, Path(workdir)))
        except RigUnavailable as error:
            print(f"bench_lb: {error}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
