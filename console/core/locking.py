"""The per-service deploy lock: a lease kept alive by a heartbeat.

A holder that dies stops heartbeating; its lock then shows as stale and may be
taken over with ``unlock --force`` (audited). A live holder is never
overridden silently; ``wait_s`` waits for it instead of failing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from console.core.clock import Clock, iso
from console.core.errors import Blocked, InvalidInput
from console.core.store import Lock, StateStore


def describe_lock(lock: Lock, clock: Clock) -> str:
    stale = " (stale: holder stopped heartbeating)" if lock.is_stale(clock.now()) else ""
    return f"locked by {lock.holder} since {iso(lock.since)}: {lock.reason}{stale}"


@dataclass
class LockLease:
    """A held lock; ``heartbeat_forever`` keeps it alive while an operation runs."""

    store: StateStore
    lock: Lock
    clock: Clock

    async def heartbeat_forever(self) -> None:
        interval_s = max(0.5, self.lock.lease_s / 3)
        while True:
            await asyncio.sleep(interval_s)
            await asyncio.to_thread(
                self.store.heartbeat_lock, self.lock.service, self.lock.token, self.clock.now()
            )

    def release(self) -> None:
        self.store.release_lock(self.lock.service, self.lock.token)


async def acquire(
    store: StateStore,
    service: str,
    holder: str,
    reason: str,
    lease_s: float,
    clock: Clock,
    wait_s: float = 0.0,
) -> LockLease:
    """Take the service lock or raise ``Blocked`` naming who holds it."""
    if wait_s < 0:
        raise InvalidInput(f"--lock-wait {wait_s}: must not be negative")
    deadline = clock.monotonic() + wait_s
    while True:
        ours, current = store.try_lock(service, holder, reason, lease_s, clock.now())
        if ours is not None:
            return LockLease(store, ours, clock)
        assert current is not None
        if clock.monotonic() >= deadline or current.is_stale(clock.now()):
            hint = (
                " — take it over with: shipdeck unlock " + service + " --force"
                if current.is_stale(clock.now())
                else ""
            )
            raise Blocked(f"{service}: {describe_lock(current, clock)}{hint}")
        await asyncio.sleep(min(0.5, max(0.05, deadline - clock.monotonic())))


@contextlib.asynccontextmanager
async def held(
    store: StateStore,
    service: str,
    holder: str,
    reason: str,
    lease_s: float,
    clock: Clock,
    wait_s: float = 0.0,
) -> AsyncIterator[LockLease]:
    """``async with held(...)``: acquire, heartbeat in the background, release."""
    lease = await acquire(store, service, holder, reason, lease_s, clock, wait_s)
    beat = asyncio.create_task(lease.heartbeat_forever())
    try:
        yield lease
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
        lease.release()
