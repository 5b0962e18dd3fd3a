"""The per-service deploy lock: a lease kept alive by a heartbeat. The only owner.

Every command and the console take, wait for, heartbeat, release, take over
and manually lock or unlock through this module; neither face touches the
store's lock rows itself. A holder that dies stops heartbeating; its lock then
shows as stale and may be taken over (``unlock --force``, or a rollback), always
audited. A live holder is never overridden silently; ``wait_s`` waits for it
instead of failing. Release and unlock compare the lock's token, so a lock
someone else took after it was read is never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from console.core.clock import Clock, iso
from console.core.errors import Blocked, InvalidInput
from console.core.store import Lock, StateStore

# A manual lock is held until unlocked: its lease never lapses on its own.
MANUAL_LEASE_S = 10 * 365 * 24 * 3600.0


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
    *,
    take_over: bool = False,
) -> LockLease:
    """Take the service lock or raise ``Blocked`` naming who holds it.

    ``take_over``: a stale lock, or one this operator holds from another process,
    is taken over (audited) instead of refused — what a rollback needs after it
    asked a running deploy to stop."""
    if wait_s < 0:
        raise InvalidInput(f"--lock-wait {wait_s}: must not be negative")
    deadline = clock.monotonic() + wait_s
    while True:
        ours, current = store.try_lock(service, holder, reason, lease_s, clock.now())
        if ours is not None:
            return LockLease(store, ours, clock)
        assert current is not None
        if take_over and (current.is_stale(clock.now()) or current.holder == holder):
            ours, _ = store.try_lock(service, holder, reason, lease_s, clock.now(), force=True)
            assert ours is not None
            store.audit(
                holder,
                "lock-takeover",
                service,
                f"{reason}: took over from {current.holder}",
                clock.now(),
            )
            return LockLease(store, ours, clock)
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
    *,
    take_over: bool = False,
) -> AsyncIterator[LockLease]:
    """``async with held(...)``: acquire, heartbeat in the background, release."""
    lease = await acquire(
        store, service, holder, reason, lease_s, clock, wait_s, take_over=take_over
    )
    beat = asyncio.create_task(lease.heartbeat_forever())
    try:
        yield lease
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
        lease.release()


def plan_lock(store: StateStore, service: str, reason: str, clock: Clock) -> tuple[str, ...]:
    """What ``lock`` would do, refusing what it would refuse; changes nothing."""
    if not reason.strip():
        raise InvalidInput("lock: --reason must not be empty")
    current = store.lock(service)
    if current is not None:
        raise Blocked(f"{service}: {describe_lock(current, clock)}")
    return (
        f"take the {service} lock until it is unlocked (deploys, rollbacks and drills wait)",
        f"reason shown to whoever is blocked: {reason}",
        "record it in the audit trail",
    )


def plan_unlock(
    store: StateStore, service: str, operator: str, clock: Clock, *, force: bool = False
) -> tuple[str, ...]:
    """What ``unlock`` would do, refusing what it would refuse; changes nothing."""
    current = store.lock(service)
    if current is None:
        return (f"{service} is not locked: nothing to do",)
    if current.holder != operator and not force:
        hint = "it is stale; " if current.is_stale(clock.now()) else ""
        raise Blocked(
            f"{service}: {describe_lock(current, clock)} — {hint}pass --force to take it over"
        )
    forced = current.holder != operator
    return (
        f"release the {service} lock ({describe_lock(current, clock)})"
        + (", someone else's: forced" if forced else ""),
        f"record {'force-unlock' if forced else 'unlock'} in the audit trail",
    )


def lock_service(store: StateStore, service: str, operator: str, reason: str, clock: Clock) -> Lock:
    """Freeze a service's deploys until it is unlocked (audited)."""
    plan_lock(store, service, reason, clock)
    ours, current = store.try_lock(service, operator, reason, MANUAL_LEASE_S, clock.now())
    if ours is None:
        assert current is not None
        raise Blocked(f"{service}: {describe_lock(current, clock)}")
    store.audit(operator, "lock", service, reason, clock.now())
    return ours


@dataclass(frozen=True)
class Unlocked:
    """What an unlock released: nothing (``lock is None``), its own lock, or, forced,
    someone else's."""

    lock: Lock | None
    forced: bool


def unlock_service(
    store: StateStore, service: str, operator: str, clock: Clock, *, force: bool = False
) -> Unlocked:
    """Release the lock; someone else's only with ``force`` (audited). The lock
    released is exactly the one read: a lock taken after that is left alone."""
    current = store.lock(service)
    if current is None:
        return Unlocked(None, False)
    if current.holder != operator and not force:
        hint = "it is stale; " if current.is_stale(clock.now()) else ""
        raise Blocked(
            f"{service}: {describe_lock(current, clock)} — {hint}pass --force to take it over"
        )
    if not store.release_lock(service, current.token):
        now_held = store.lock(service)
        if now_held is None:
            return Unlocked(None, False)  # released by its holder meanwhile
        raise Blocked(
            f"{service}: the lock changed while unlocking: {describe_lock(now_held, clock)}; "
            "nothing was released"
        )
    forced = current.holder != operator
    store.audit(
        operator,
        "force-unlock" if forced else "unlock",
        service,
        f"was {describe_lock(current, clock)}",
        clock.now(),
    )
    return Unlocked(current, forced)


def release_stale(store: StateStore, lock: Lock, operator: str, why: str, clock: Clock) -> bool:
    """Release a lease whose holder stopped heartbeating (audited), so the caller
    can take the lock as usual; a lease that is live again is left alone."""
    if not lock.is_stale(clock.now()):
        return False
    released = store.release_lock(lock.service, lock.token)
    if released:
        store.audit(
            operator, "lock-takeover", lock.service, f"{why} (was {lock.holder})", clock.now()
        )
    return released
