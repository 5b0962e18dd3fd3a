"""A bad config or an unsafe weight set never takes the edge down: it is
refused before anything is written, or rolled back, while traffic flows."""

from __future__ import annotations

import asyncio
import socket

import pytest

from console.demo.rig.daemons import free_port
from engines.errors import EngineOperationFailed
from engines.lb import LbWriter, NoHealthyBackend, TrafficState
from engines.lb.haproxy import HaproxyWriter, parse_show_proc
from engines.lb.nginx import NginxWriter
from tests.integration.lb.conftest import HOST, Pair, Ports, blue_green, keepalive_load

pytestmark = pytest.mark.rig


async def reload_marker(writer: LbWriter) -> object:
    """Something that changes whenever the LB reloads."""
    if isinstance(writer, NginxWriter):
        workers = await writer._workers()
        assert workers is not None
        return frozenset(workers)
    assert isinstance(writer, HaproxyWriter)
    return parse_show_proc(await writer._master("show proc"))[:2]


async def reloaded_since(writer: LbWriter, before: object) -> bool:
    """A reload starts new nginx workers; an old one still draining keep-alive
    connections from an earlier reload may exit meanwhile, which is no reload."""
    now = await reload_marker(writer)
    if isinstance(writer, NginxWriter):
        return not now <= before  # type: ignore[operator]
    return now != before


def smuggle_bad_port(writer: LbWriter, good: str, bad: str) -> None:
    """Make the writer render ``bad`` where ``good`` belongs, as a renderer
    bug or a value smuggled past validation would."""
    render = writer._render

    def broken(state: TrafficState) -> str:
        return render(state).replace(good, bad)

    writer._render = broken  # type: ignore[method-assign]


async def test_config_rejected_by_the_checker_leaves_the_old_one_installed_and_serving(
    any_writer: LbWriter, upstreams: Pair, ports: Ports
) -> None:
    await any_writer.apply(blue_green(upstreams, ports, blue_pct=100))
    installed = await any_writer.current_config("web")
    reloads = await reload_marker(any_writer)
    green = f"{HOST}:{upstreams.green.port}"
    # A name where the port belongs. (HAProxy's checker would accept "8001x" as
    # 8001: the writer's own validation is what keeps such values out.)
    smuggle_bad_port(any_writer, green, f"{HOST}:green")

    async with keepalive_load(ports.listen) as load:
        await asyncio.sleep(0.2)
        with pytest.raises(EngineOperationFailed) as rejected:
            await any_writer.apply(blue_green(upstreams, ports, blue_pct=0))
        await asyncio.sleep(0.2)

    assert "config rejected by checker" in rejected.value.cause
    assert "port" in rejected.value.cause
    assert await any_writer.current_config("web") == installed
    assert not await reloaded_since(any_writer, reloads)
    assert await any_writer.probe("web") == "v1"
    assert load.failures == [] and load.non_2xx == 0 and len(load.samples) > 50


async def test_config_that_passes_the_checker_but_cannot_load_is_rolled_back(
    any_writer: LbWriter, upstreams: Pair, ports: Ports
) -> None:
    await any_writer.apply(blue_green(upstreams, ports, blue_pct=100))
    installed = await any_writer.current_config("web")
    taken = socket.socket()
    taken.bind((HOST, 0))
    taken.listen()
    moved = Ports(listen=taken.getsockname()[1], preview=ports.preview)
    try:
        async with keepalive_load(ports.listen) as load:
            with pytest.raises(EngineOperationFailed) as failed:
                await any_writer.apply(blue_green(upstreams, moved, blue_pct=0))
    finally:
        taken.close()

    print(f"\n{type(any_writer).__name__}: {failed.value.cause}")
    assert "previous config restored" in failed.value.cause
    assert await any_writer.current_config("web") == installed
    assert await any_writer.probe("web") == "v1"
    assert load.failures == [] and load.non_2xx == 0


@pytest.mark.parametrize(
    "blue_pct", [pytest.param(0, id="swap"), pytest.param(95, id="canary-5pct")]
)
async def test_weights_onto_a_dead_backend_are_refused_before_anything_is_written(
    any_writer: LbWriter, upstreams: Pair, ports: Ports, blue_pct: int
) -> None:
    await any_writer.apply(blue_green(upstreams, ports, blue_pct=100))
    installed = await any_writer.current_config("web")
    dead = free_port()

    with pytest.raises(NoHealthyBackend) as refused:
        await any_writer.apply(blue_green(upstreams, ports, blue_pct=blue_pct, green_port=dead))

    assert str(dead) in refused.value.cause and "nothing was written" in refused.value.cause
    assert await any_writer.current_config("web") == installed
    assert await any_writer.probe("web") == "v1"


async def test_applying_the_live_state_again_changes_nothing(
    any_writer: LbWriter, upstreams: Pair, ports: Ports
) -> None:
    await any_writer.apply(blue_green(upstreams, ports, blue_pct=100))
    reloads = await reload_marker(any_writer)

    again = await any_writer.apply(blue_green(upstreams, ports, blue_pct=100))

    assert (again.method, again.changed, again.verified_release) == ("unchanged", False, "v1")
    assert not await reloaded_since(any_writer, reloads)


async def test_restore_backup_puts_the_previous_config_back_and_can_undo_itself(
    any_writer: LbWriter, upstreams: Pair, ports: Ports
) -> None:
    await any_writer.apply(blue_green(upstreams, ports, blue_pct=100))
    await any_writer.apply(blue_green(upstreams, ports, blue_pct=0))
    assert await any_writer.probe("web") == "v2"

    restored = await any_writer.restore_backup("web")

    assert restored.verified_release == "v1"
    assert await any_writer.probe("web") == "v1"
    await any_writer.restore_backup("web")
    assert await any_writer.probe("web") == "v2"
