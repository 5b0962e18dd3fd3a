"""``shipdeck rollback SERVICE [--to RELEASE] [--env E] [--yes] [--json] [--dry-run]``."""

from __future__ import annotations

import argparse

from console.cli_commands.context import CliContext
from console.cli_commands.opsupport import op_context, print_plan
from console.core.store import Outcome
from console.core.text import printable


def register(subparsers: argparse._SubParsersAction) -> None:
    rollback = subparsers.add_parser(
        "rollback", help="return to a previous release (warm: swap only)"
    )
    rollback.add_argument("service")
    rollback.add_argument(
        "--to",
        default="last-good",
        metavar="RELEASE",
        help="release name/digest (default last-good)",
    )
    rollback.add_argument("--env", default="production")
    rollback.add_argument(
        "--dry-run", action="store_true", help="print the plan and LB config diff; change nothing"
    )
    rollback.set_defaults(handler=handle_rollback)


async def handle_rollback(args: argparse.Namespace, ctx: CliContext) -> int:
    ctx.config().service(args.service)
    if not args.dry_run:
        ctx.confirm(f"roll back {args.service}/{args.env} to {args.to}")
    from console.core.ops.rollback import rollback

    async with op_context(ctx) as op:
        result = await rollback(op, args.service, args.env, args.to, dry_run=args.dry_run)
    if result.outcome == Outcome.PLANNED:
        print_plan(
            ctx,
            f"plan: roll back {args.service}/{args.env}: {result.from_release} → {result.to_release} ({result.mode})",
            result.plan,
            result.lb_diff,
            {
                "service": args.service,
                "environment": args.env,
                "to_release": result.to_release,
                "mode": result.mode,
            },
        )
        return 0
    summary = result.to_dict()
    summary.pop("plan", None)
    summary.pop("lb_diff", None)
    text = f"{args.service}/{args.env}: rollback {result.outcome}: {result.from_release} → {result.to_release} ({result.mode}, {result.duration_s:.1f}s)"
    if result.reason:
        text += f": {printable(result.reason)}"
    ctx.out.event("summary", text, **summary)
    return result.exit_code
