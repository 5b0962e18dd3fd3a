"""Blocking calls off the UI loop, on daemon threads.

``asyncio.to_thread`` uses the loop's default executor, and ``asyncio.run``
waits for that executor when the console closes: a probe stuck on an
unreachable host would hold ``q`` for its whole timeout. A daemon thread never
holds up exit; operations that must finish (a rollback) are waited for
explicitly by ``run_console``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():  # the awaiting worker was cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` on a new daemon thread and await its result (or exception)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        value: Any = None
        error: BaseException | None = None
        try:
            value = fn(*args)
        except BaseException as caught:  # handed to the awaiting coroutine
            error = caught
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
            loop.call_soon_threadsafe(_settle, future, value, error)

    threading.Thread(
        target=run, daemon=True, name=f"shipdeck {getattr(fn, '__name__', 'call')}"
    ).start()
    return await future
