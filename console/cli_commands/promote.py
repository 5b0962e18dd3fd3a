"""``shipdeck promote SERVICE`` and ``shipdeck abort SERVICE``: steer a running rollout.

Both are recorded as events on the running deployment; the process running
the rollout acts on them. If that process died, ``abort`` rolls back itself.
"""

from __future__ import annotations

import argparse

from console.cli_commands.context import CliContext
from console.cli_commands.opsupport import op_context


def register(subparsers: argparse._SubParsersAction) -> None:
    promote = subparsers.add_parser(
        "promote", help="skip the remaining canary steps (after the current analysis)"
    )
    promote.add_argument("service")
    promote.add_argument("--env", default="production")
    promote.set_defaults(handler=handle_promote)
    abort = subparsers.add_parser("abort", help="roll the running rollout back now")
    abort.add_argument("service")
    abort.add_argument("--env", default="production")
    abort.set_defaults(handler=handle_abort)


async def handle_promote(args: argparse.Namespace, ctx: CliContext) -> int:
    ctx.config().service(args.service)
    ctx.confirm(f"promote the {args.service}/{args.env} canary to 100%")
    from console.core.ops.canary import request_signal

    async with op_context(ctx) as op:
        deployment_id = await request_signal(op, args.service, args.env, "promote")
    ctx.out.document(
        {"requested": "promote", "deployment_id": deployment_id},
        f"{args.service}/{args.env}: promote requested for deployment #{deployment_id}",
    )
    return 0


async def handle_abort(args: argparse.Namespace, ctx: CliContext) -> int:
    ctx.config().service(args.service)
    ctx.confirm(f"abort the {args.service}/{args.env} rollout")
    from console.core.ops.rollback import rollback

    async with op_context(ctx) as op:
        result = await rollback(op, args.service, args.env, "last-good", kind="abort")
    summary = result.to_dict()
    summary.pop("plan", None)
    summary.pop("lb_diff", None)
    ctx.out.event(
        "summary",
        f"{args.service}/{args.env}: abort {result.outcome}: traffic on {result.to_release}",
        **summary,
    )
    return result.exit_code
