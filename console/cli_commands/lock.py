"""``shipdeck lock SERVICE --reason R`` and ``shipdeck unlock SERVICE [--force]``."""

from __future__ import annotations

import argparse
from typing import Any

from console.cli_commands.context import CliContext
from console.cli_commands.opsupport import print_plan
from console.core.clock import iso
from console.core.locking import lock_service, plan_lock, plan_unlock, unlock_service
from console.core.store import Lock
from console.core.text import printable


def register(subparsers: argparse._SubParsersAction) -> None:
    lock = subparsers.add_parser("lock", help="hold a service's deploy lock (freeze deploys)")
    lock.add_argument("service")
    lock.add_argument("--reason", required=True, help="why deploys are frozen (shown to others)")
    lock.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    lock.set_defaults(handler=handle_lock)
    unlock = subparsers.add_parser("unlock", help="release a service's deploy lock")
    unlock.add_argument("service")
    unlock.add_argument(
        "--force", action="store_true", help="take over a lock held by someone else (audited)"
    )
    unlock.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
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
    if args.dry_run:
        steps = plan_lock(ctx.store(), args.service, args.reason, ctx.clock)
        print_plan(ctx, f"plan: lock {args.service}", list(steps), "", {})
        return 0
    ours = lock_service(ctx.store(), args.service, ctx.operator, args.reason, ctx.clock)
    ctx.out.document(
        {"locked": _lock_doc(ours, ctx)},
        f"{args.service}: locked by {printable(ours.holder)}: {printable(ours.reason)}",
    )
    return 0


async def handle_unlock(args: argparse.Namespace, ctx: CliContext) -> int:
    ctx.config().service(args.service)
    if args.dry_run:
        steps = plan_unlock(ctx.store(), args.service, ctx.operator, ctx.clock, force=args.force)
        print_plan(ctx, f"plan: unlock {args.service}", list(steps), "", {})
        return 0
    released = unlock_service(ctx.store(), args.service, ctx.operator, ctx.clock, force=args.force)
    if released.lock is None:
        ctx.out.document({"unlocked": None, "service": args.service}, f"{args.service}: not locked")
        return 0
    ctx.out.document(
        {
            "unlocked": _lock_doc(released.lock, ctx),
            "service": args.service,
            "forced": released.forced,
        },
        f"{args.service}: unlocked (was held by {printable(released.lock.holder)})",
    )
    return 0
