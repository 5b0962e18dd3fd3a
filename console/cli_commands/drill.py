"""``shipdeck drill SERVICE [--env staging]``: a real rollback and roll-forward, measured."""

from __future__ import annotations

import argparse

from console.cli_commands.context import CliContext
from console.cli_commands.opsupport import op_context, print_plan
from console.core.store import Outcome
from console.core.text import printable


def register(subparsers: argparse._SubParsersAction) -> None:
    drill = subparsers.add_parser(
        "drill", help="rollback drill: roll back and forward again, measured"
    )
    drill.add_argument("service")
    drill.add_argument("--env", default="staging")
    drill.add_argument(
        "--dry-run", action="store_true", help="print the drill's plan; change nothing"
    )
    drill.set_defaults(handler=handle_drill)


async def handle_drill(args: argparse.Namespace, ctx: CliContext) -> int:
    ctx.config().service(args.service)
    from console.core.ops.drill import drill

    if args.dry_run:
        async with op_context(ctx) as op:
            plan = await drill(op, args.service, args.env, dry_run=True)
        print_plan(
            ctx,
            f"plan: drill {args.service}/{args.env}: {plan.live_release} → {plan.previous_release} → {plan.live_release}",
            plan.plan,
            "",
            {"live_release": plan.live_release, "previous_release": plan.previous_release},
        )
        return 0
    ctx.confirm(f"run a rollback drill on {args.service}/{args.env}")

    async with op_context(ctx) as op:
        result = await drill(op, args.service, args.env)
    if result.outcome == Outcome.SUCCEEDED:
        text = (
            f"{args.service}/{args.env}: drill ok: rollback to {result.previous_release} {result.rollback_s:.2f}s, "
            f"roll-forward to {result.live_release} {result.rollforward_s:.2f}s"
        )
    else:
        text = f"{args.service}/{args.env}: drill failed: {printable(str(result.reason))}"
    ctx.out.event("summary", text, **result.to_dict())
    return result.exit_code
