"""fan_out: every item runs to its own end; failures are collected, never spread."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.errors import TargetUnreachable
from engines.fanout import fan_out


class Host:
    def __init__(self, name: str) -> None:
        self.name = name


async def test_one_failure_does_not_stop_the_others() -> None:
    finished: list[str] = []

    async def op(host: Host) -> str:
        if host.name == "b":
            raise TargetUnreachable("b", "connection refused")
        await asyncio.sleep(0.01)
        finished.append(host.name)
        return host.name.upper()

    result = await fan_out([Host("a"), Host("b"), Host("c")], op)

    assert sorted(finished) == ["a", "c"]
    assert result.values() == {"a": "A", "c": "C"}
    assert not result.all_ok


async def test_failed_names_each_failing_item_with_its_error() -> None:
    async def op(host: Host) -> None:
        if host.name in ("b", "d"):
            raise TargetUnreachable(host.name, "sshd down")

    result = await fan_out([Host(n) for n in "abcd"], op)

    assert result.failed_labels == ["b", "d"]
    assert [str(outcome.error) for outcome in result.failed] == ["b: sshd down", "d: sshd down"]
    assert result.describe_failures() == "2 of 4 failed: b: sshd down; d: sshd down"


async def test_non_engine_errors_are_described_with_the_item_label() -> None:
    async def op(host: Host) -> None:
        raise ValueError("boom")

    result = await fan_out([Host("web-1")], op)

    assert result.describe_failures() == "1 of 1 failed: web-1: ValueError: boom"


async def test_outcomes_keep_the_order_of_the_items() -> None:
    async def op(delay_s: float) -> float:
        await asyncio.sleep(delay_s)
        return delay_s

    result = await fan_out([0.03, 0.01, 0.02], op, label=str)

    assert [outcome.value for outcome in result.outcomes] == [0.03, 0.01, 0.02]


async def test_items_run_concurrently() -> None:
    started = time.perf_counter()

    result = await fan_out(range(8), lambda _: asyncio.sleep(0.1), label=str)

    assert result.all_ok
    assert time.perf_counter() - started < 0.3


async def test_no_more_than_concurrency_items_run_at_once() -> None:
    running = 0
    peak = 0

    async def op(_: int) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    await fan_out(range(10), op, concurrency=3, label=str)

    assert peak == 3


async def test_an_item_over_its_timeout_fails_alone_as_a_timeout() -> None:
    async def op(delay_s: float) -> str:
        await asyncio.sleep(delay_s)
        return "done"

    result = await fan_out([0.0, 5.0], op, item_timeout_s=0.1, label=str)

    assert result.outcomes[0].value == "done"
    assert isinstance(result.outcomes[1].error, TimeoutError)
    assert str(result.outcomes[1].error) == "timed out after 0.1s"


async def test_a_timeout_raised_by_the_item_itself_is_kept_as_is() -> None:
    async def op(_: int) -> None:
        raise TimeoutError("health check: no answer")

    result = await fan_out([1], op, item_timeout_s=10, label=str)

    assert str(result.outcomes[0].error) == "health check: no answer"


async def test_cancelling_the_fan_out_cancels_every_item() -> None:
    cancelled: list[int] = []

    async def op(item: int) -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(item)
            raise

    task = asyncio.create_task(fan_out(range(3), op, label=str))
    await asyncio.sleep(0.05)
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(cancelled) == [0, 1, 2]


async def test_concurrency_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        await fan_out([1], lambda _: asyncio.sleep(0), concurrency=0, label=str)


@given(st.lists(st.booleans(), max_size=20))
def test_every_item_is_either_succeeded_or_failed_exactly_once(fails: list[bool]) -> None:
    async def op(index: int) -> int:
        if fails[index]:
            raise RuntimeError(str(index))
        return index

    result = asyncio.run(fan_out(range(len(fails)), op, concurrency=4, label=str))

    assert [o.label for o in result.outcomes] == [str(i) for i in range(len(fails))]
    assert result.failed_labels == [str(i) for i, failed in enumerate(fails) if failed]
    assert len(result.failed) + len(result.succeeded) == len(fails)
    assert result.all_ok == (not any(fails))
