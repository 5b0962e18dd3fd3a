"""Blue↔green swaps under load, on real nginx and HAProxy (reload and runtime
API): nothing dropped, nothing non-2xx, and the new color takes every new
request as soon as the swap is verified."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable

import pytest

from engines.lb import LbWriter
from tests.integration.lb.conftest import (
    KeepAliveClient,
    LoadTool,
    Pair,
    Ports,
    ToolReport,
    blue_green,
)

pytestmark = pytest.mark.rig

SWAPS = 100
RELEASE_OF = {100: "v1", 0: "v2"}


async def swap_hundred_times(writer: LbWriter, upstreams: Pair, ports: Ports) -> list[float]:
    """100 verified swaps, each starting from the other color; returns durations."""
    durations = []
    for swap in range(SWAPS):
        blue_pct = 0 if swap % 2 == 0 else 100
        result = await writer.apply(blue_green(upstreams, ports, blue_pct=blue_pct))
        assert result.verified_release == RELEASE_OF[blue_pct]
        durations.append(result.duration_s)
    return durations


def expected_method(writer: LbWriter) -> str:
    runtime = getattr(writer, "runtime_api", False)
    return "runtime_api" if runtime else "reload"


async def swaps_under_load(
    load_tool: Callable[[int], LoadTool], writer: LbWriter, upstreams: Pair, ports: Ports
) -> tuple[ToolReport, list[float]]:
    """100 swaps while ``load_tool`` loads the listener: what it counted, and the durations."""
    await writer.apply(blue_green(upstreams, ports, blue_pct=100))
    load = load_tool(ports.listen)
    try:
        await asyncio.sleep(0.3)
        durations = await swap_hundred_times(writer, upstreams, ports)
        await asyncio.sleep(0.3)
    finally:
        report = load.stop()
    return report, durations


@pytest.mark.parametrize(
    "load_tool", [pytest.param(LoadTool.hey, id="hey"), pytest.param(LoadTool.wrk, id="wrk")]
)
async def test_hundred_swaps_under_load_answer_every_request_with_2xx(
    load_tool: Callable[[int], LoadTool], swap_writer: LbWriter, upstreams: Pair, ports: Ports
) -> None:
    report, durations = await swaps_under_load(load_tool, swap_writer, upstreams, ports)

    print(
        f"\n{type(swap_writer).__name__} runtime={expected_method(swap_writer)}: {SWAPS} swaps,"
        f" {report.requests} requests, non-2xx {report.non_2xx},"
        f" connect/write/timeout errors {report.errors},"
        f" read errors (closed idle keep-alive connections) {report.read_errors},"
        f" apply median {statistics.median(durations) * 1000:.1f} ms"
    )
    assert report.requests > 1000, report.text
    assert report.non_2xx == 0, report.text
    # wrk counts an idle keep-alive connection the LB closed as a read error (a client
    # retries those); every other error counts
    assert report.errors == 0, report.text


async def test_after_each_swap_every_new_request_reaches_the_new_color(
    swap_writer: LbWriter, upstreams: Pair, ports: Ports
) -> None:
    await swap_writer.apply(blue_green(upstreams, ports, blue_pct=100))
    client = KeepAliveClient(ports.listen, connections=4)
    client.start()
    stale_after_verified = 0
    convergence_ms = []
    try:
        for swap in range(SWAPS):
            blue_pct = 0 if swap % 2 == 0 else 100
            old = RELEASE_OF[100 - blue_pct]
            started = time.monotonic()
            await swap_writer.apply(blue_green(upstreams, ports, blue_pct=blue_pct))
            verified = time.monotonic()
            await _until_every_connection_answered_after(client, verified)
            answered = [s for s in client.samples if s.sent_s >= started]
            stale = [s for s in answered if s.release == old]
            stale_after_verified += sum(1 for s in stale if s.sent_s >= verified)
            last_stale = max((s.done_s for s in stale), default=started)
            convergence_ms.append((last_stale - started) * 1000)
    finally:
        await client.stop()

    convergence_ms.sort()
    print(
        f"\n{type(swap_writer).__name__} runtime={expected_method(swap_writer)}: time to all-new"
        f" p50 {convergence_ms[len(convergence_ms) // 2]:.1f} ms,"
        f" p95 {convergence_ms[int(len(convergence_ms) * 0.95)]:.1f} ms,"
        f" idle keep-alive closes retried {client.idle_close_retries}"
    )
    assert client.failures == []
    assert client.non_2xx == 0
    assert stale_after_verified == 0


async def _until_every_connection_answered_after(client: KeepAliveClient, since: float) -> None:
    """Wait (bounded) until each load connection got an answer to a request
    sent after ``since``."""
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        recent = {s.connection for s in client.samples[-64:] if s.sent_s >= since}
        if len(recent) == client.connections:
            return
        await asyncio.sleep(0.002)
    raise AssertionError("load connections stopped answering after a swap")
