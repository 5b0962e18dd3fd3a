"""``shipdeck lock SERVICE --reason R`` and ``shipdeck unlock SERVICE [--force]``."""

from __future__ import annotations

import argparse
from typing import Any

from console.cli_commands.context import CliContext
from console.core.clock import iso
from console.core.errors import Blocked, InvalidInput
from console.core.locking import describe_lock
from console.core.store import Lock
from console.core.text import printable

# A manual lock is held until unlocked: its lease never lapses on its own.
MANUAL_LEASE_S = 10 * 365 * 24 * 3600.0


def register(subparsers: argparse._SubParsersAction) -> None:
    lock = subparsers.add_parser("lock", help="hold a service's deploy lock (freeze deploys)")
    lock.add_argument("service")
    lock.add_argument("--reason", required=True, help="why deploys are frozen (shown to others)")
    lock.set_defaults(handler=handle_lock)
    unlock = subparsers.add_parser("unlock", help="release a service's deploy lock")
    unlock.add_argument("service")
    unlock.add_argument(
        "--force", action="store_true", help="take over a lock held by someone else (audited)"
    )
    unlock.set_defaults(handler=handle_unlock)


def _lock_doc(lock: Lock, ctx: CliContext) -> dict[str, Any]:
    return {
        "service": lock.service,
        "holder": lock.holder,
        "since": iso(lock.since),
        "reason": lock.reason,
        "heartbeat_at": iso(lock.heartbeat_at),
        "stale": lock.is_stale(ctx.now()),
    }


async def handle_lock(args: argparse.Namespace, ctx: CliContext) -> int:
    ctx.config().service(args.service)
    if not args.reason.strip():
        raise InvalidInput("lock: --reason must not be empty")
    store = ctx.store()
    ours, current = store.try_lock(
        args.service, ctx.operator, args.reason, MANUAL_LEASE_S, ctx.now()
    )
    if ours is None:
        raise Blocked(f"{args.service}: {describe_lock(current, ctx.clock)}")  # type: ignore[arg-type]
    store.audit(ctx.operator, "lock", args.service, args.reason, ctx.now())
    ctx.out.document(
        {"locked": _lock_doc(ours, ctx)},
        f"{args.service}: locked by {printable(ours.holder)}: {printable(ours.reason)}",
    )
    return 0


async def handle_unlock(args: argparse.Namespace, ctx: CliContext) -> int:
    ctx.config().service(args.service)
    store = ctx.store()
    current = store.lock(args.service)
    if current is None:
        ctx.out.document({"unlocked": None, "service": args.service}, f"{args.service}: not locked")
        return 0
    if current.holder != ctx.operator and not args.force:
        stale = current.is_stale(ctx.now())
        hint = "it is stale; " if stale else ""
        raise Blocked(
            f"{args.service}: {describe_lock(current, ctx.clock)} — {hint}pass --force to take it over"
        )
    store.release_lock(args.service)
    action = "force-unlock" if current.holder != ctx.operator else "unlock"
    store.audit(
        ctx.operator, action, args.service, f"was {describe_lock(current, ctx.clock)}", ctx.now()
    )
    ctx.out.document(
        {
            "unlocked": _lock_doc(current, ctx),
            "service": args.service,
            "forced": action == "force-unlock",
        },
        f"{args.service}: unlocked (was held by {printable(current.holder)})",
    )
    return 0
