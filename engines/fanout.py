"""Run one async operation on many items (hosts) at once and keep every outcome.

A deploy touches every host of a service; one slow or broken host must neither
stall the others nor hide their results. So, unlike ``asyncio.TaskGroup``, a
failure here never cancels the siblings: each item runs to completion (or to its
own timeout) and the caller gets a per-item value or exception, then decides
whether to roll back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from engines.errors import EngineError

ItemT = TypeVar("ItemT")
ValueT = TypeVar("ValueT")


def default_item_label(item: object) -> str:
    """Hosts carry a ``name``; anything else is shown with ``str``."""
    name = getattr(item, "name", None)
    return name if isinstance(name, str) else str(item)


@dataclass(frozen=True)
class ItemOutcome(Generic[ItemT, ValueT]):
    """What happened to one item: its value, or the exception it raised."""

    item: ItemT
    label: str
    value: ValueT | None
    error: Exception | None
    elapsed_s: float

    @property
    def ok(self) -> bool:
        return self.error is None

    def describe_error(self) -> str:
        """One line naming the item and the cause (engine errors already name it)."""
        if self.error is None:
            return f"{self.label}: ok"
        if isinstance(self.error, EngineError):
            return str(self.error)
        return f"{self.label}: {type(self.error).__name__}: {self.error}"


@dataclass(frozen=True)
class FanOutResult(Generic[ItemT, ValueT]):
    """Every item's outcome, in the order the items were given."""

    outcomes: tuple[ItemOutcome[ItemT, ValueT], ...]
    elapsed_s: float

    @property
    def failed(self) -> list[ItemOutcome[ItemT, ValueT]]:
        return [outcome for outcome in self.outcomes if not outcome.ok]

    @property
    def succeeded(self) -> list[ItemOutcome[ItemT, ValueT]]:
        return [outcome for outcome in self.outcomes if outcome.ok]

    @property
    def all_ok(self) -> bool:
        return all(outcome.ok for outcome in self.outcomes)

    @property
    def failed_labels(self) -> list[str]:
        return [outcome.label for outcome in self.failed]

    def values(self) -> dict[str, ValueT]:
        """Values of the items that succeeded, keyed by label."""
        return {o.label: o.value for o in self.outcomes if o.ok}  # type: ignore[misc]

    def describe_failures(self) -> str:
        """``"2 of 8 failed: host-3: …; host-5: …"`` — for logs and error messages."""
        failed = self.failed
        if not failed:
            return f"all {len(self.outcomes)} succeeded"
        causes = "; ".join(outcome.describe_error() for outcome in failed)
        return f"{len(failed)} of {len(self.outcomes)} failed: {causes}"


async def fan_out(
    items: Iterable[ItemT],
    op: Callable[[ItemT], Awaitable[ValueT]],
    *,
    concurrency: int = 16,
    item_timeout_s: float | None = None,
    label: Callable[[ItemT], str] = default_item_label,
) -> FanOutResult[ItemT, ValueT]:
    """Run ``op(item)`` for every item, at most ``concurrency`` at a time.

    Exceptions are collected per item, never raised (except cancellation of the
    whole fan-out, which cancels every item). An item exceeding
    ``item_timeout_s`` is cancelled and recorded as a ``TimeoutError``.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    item_list = list(items)
    slots = asyncio.Semaphore(concurrency)
    started = time.perf_counter()

    async def run_one(item: ItemT) -> ItemOutcome[ItemT, ValueT]:
        async with slots:
            item_started = time.perf_counter()
            deadline = asyncio.timeout(item_timeout_s)
            try:
                async with deadline:
                    value = await op(item)
            except Exception as exc:  # collected per item by design
                error: Exception = exc
                if isinstance(exc, TimeoutError) and deadline.expired():
                    error = TimeoutError(f"timed out after {item_timeout_s:g}s")
                return ItemOutcome(item, label(item), None, error, _since(item_started))
            return ItemOutcome(item, label(item), value, None, _since(item_started))

    outcomes = await asyncio.gather(*(run_one(item) for item in item_list))
    return FanOutResult(tuple(outcomes), _since(started))


def _since(started: float) -> float:
    return time.perf_counter() - started
