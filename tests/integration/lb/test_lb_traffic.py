"""What the LB does with a traffic state: weighted splits, the preview
listener, what it reports back, and HAProxy's runtime API."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from console.demo.rig.daemons import free_port
from engines.lb import LbWriter
from engines.lb.haproxy import HaproxyWriter, parse_show_proc
from tests.integration.lb.conftest import KeepAliveClient, Pair, Ports, blue_green

pytestmark = pytest.mark.rig


async def test_a_five_ninety_five_split_lands_within_two_points_over_2000_requests(
    any_writer: LbWriter, upstreams: Pair, ports: Ports
) -> None:
    await any_writer.apply(blue_green(upstreams, ports, blue_pct=95))
    client = KeepAliveClient(ports.listen, connections=4, max_requests=2000, max_duration_s=30)

    client.start()
    while len(client.samples) < 2000 and not client.failures:
        await asyncio.sleep(0.01)
    await client.stop()

    releases = Counter(s.release for s in client.samples[:2000])
    canary_pct = 100 * releases["v2"] / 2000
    print(f"\n{type(any_writer).__name__}: v2 got {canary_pct:.2f}% of 2000 requests")
    assert client.failures == []
    assert releases["v1"] + releases["v2"] == 2000
    assert 3.0 <= canary_pct <= 7.0


async def test_the_preview_listener_routes_to_the_idle_color(
    any_writer: LbWriter, upstreams: Pair, ports: Ports
) -> None:
    await any_writer.apply(blue_green(upstreams, ports, blue_pct=100))
    assert (await any_writer.probe("web"), await any_writer.probe("web", "preview")) == ("v1", "v2")

    await any_writer.apply(blue_green(upstreams, ports, blue_pct=0))

    assert (await any_writer.probe("web"), await any_writer.probe("web", "preview")) == ("v2", "v1")


async def test_observed_state_reports_the_weights_the_lb_has(
    any_writer: LbWriter, upstreams: Pair, ports: Ports
) -> None:
    await any_writer.apply(blue_green(upstreams, ports, blue_pct=95))

    observed = {
        b.name: (b.release, b.color, b.weight_pct) for b in await any_writer.observed_state("web")
    }

    assert observed == {"web-1-blue": ("v1", "blue", 95), "web-1-green": ("v2", "green", 5)}


async def test_two_services_on_one_lb_keep_their_own_files(
    any_writer: LbWriter, upstreams: Pair, ports: Ports
) -> None:
    other = Ports(free_port(), free_port())
    await any_writer.apply(blue_green(upstreams, ports, blue_pct=100))
    await any_writer.apply(blue_green(upstreams, other, blue_pct=0, service="shop"))

    await any_writer.apply(blue_green(upstreams, ports, blue_pct=0))

    assert await any_writer.probe("shop") == "v2"
    assert await any_writer.probe("web") == "v2"
    assert any_writer.config_path("web") != any_writer.config_path("shop")


async def test_haproxy_weight_only_changes_go_through_the_runtime_api_without_a_reload(
    haproxy_writer: HaproxyWriter, upstreams: Pair, ports: Ports
) -> None:
    first = await haproxy_writer.apply(blue_green(upstreams, ports, blue_pct=100))
    before = parse_show_proc(await haproxy_writer._master("show proc"))

    swapped = await haproxy_writer.apply(blue_green(upstreams, ports, blue_pct=0))
    canary = await haproxy_writer.apply(blue_green(upstreams, ports, blue_pct=95))

    assert first.method == "reload"
    assert (swapped.method, canary.method) == ("runtime_api", "runtime_api")
    assert parse_show_proc(await haproxy_writer._master("show proc")) == before
    assert await haproxy_writer.probe("web", "preview") == "v2"
    installed = await haproxy_writer.current_config("web")
    assert installed is not None and "weight 95 check" in installed


async def test_haproxy_answers_503_if_the_old_weight_is_lowered_before_the_new_is_raised(
    haproxy_writer: HaproxyWriter, upstreams: Pair, ports: Ports
) -> None:
    """Why the writer raises first: between two runtime commands HAProxy
    serves requests, and with every weight at 0 it has no server to pick."""
    await haproxy_writer.apply(blue_green(upstreams, ports, blue_pct=100))

    await haproxy_writer._stats("set server shipdeck_web/web-1-blue weight 0")
    try:
        status = (await haproxy_writer.probe_detail("web")).status
    finally:
        await haproxy_writer._stats("set server shipdeck_web/web-1-green weight 100")

    assert status == 503
