"""Blocking calls run on daemon threads, so a hung host never holds up quitting."""

from __future__ import annotations

import threading

import pytest

from console.tui.background import in_thread


async def test_in_thread_returns_the_result_from_another_thread():
    caller = threading.get_ident()
    ident = await in_thread(threading.get_ident)
    assert ident != caller


async def test_in_thread_raises_what_the_call_raised():
    def fail() -> None:
        raise ValueError("store locked")

    with pytest.raises(ValueError, match="store locked"):
        await in_thread(fail)


async def test_in_thread_uses_a_daemon_thread():
    assert await in_thread(lambda: threading.current_thread().daemon)
