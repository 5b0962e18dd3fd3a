"""``shipdeck promote SERVICE`` and ``shipdeck abort SERVICE``: steer a running rollout.

Both are recorded as events on the running deployment; the process running
the rollout acts on them. If that process died, ``abort`` rolls back itself.
"""

from __future__ import annotations

import argparse

from console.cli_commands.context import CliContext
from console.cli_commands.opsupport import op_context, print_plan


def register(subparsers: argparse._SubParsersAction) -> None:
    promote = subparsers.add_parser(
        "promote", help="skip the remaining canary steps (after the current analysis)"
    )
    promote.add_argument("service")
    promote.add_argument("--env", default="production")
    promote.add_argument(
        "--dry-run", action="store_true", help="print what the promote would do; change nothing"
    )
    promote.set_defaults(handler=handle_promote)
    abort = subparsers.add_parser("abort", help="roll the running rollout back now")
    abort.add_argument("service")
    abort.add_argument("--env", default="production")
    abort.add_argument(
        "--dry-run", action="store_true", help="print the plan and LB config diff; change nothing"
    )
    abort.set_defaults(handler=handle_abort)


async def handle_promote(args: argparse.Namespace, ctx: CliContext) -> int:
    ctx.config().service(args.service)
    if args.dry_run:
        from console.core.ops.canary import plan_promote

        async with op_context(ctx) as op:
            deployment_id, steps = plan_promote(op, args.service, args.env)
        print_plan(
            ctx,
            f"plan: promote {args.service}/{args.env} (deployment #{deployment_id})",
            list(steps),
            "",
            {"deployment_id": deployment_id},
        )
        return 0
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
    from console.core.ops.rollback import rollback

    if args.dry_run:
        async with op_context(ctx) as op:
            plan = await rollback(
                op, args.service, args.env, "last-good", kind="abort", dry_run=True
            )
        print_plan(
            ctx,
            f"plan: abort {args.service}/{args.env}: {plan.from_release} → {plan.to_release} ({plan.mode})",
            plan.plan,
            plan.lb_diff,
            {"from_release": plan.from_release, "to_release": plan.to_release, "mode": plan.mode},
        )
        return 0
    ctx.confirm(f"abort the {args.service}/{args.env} rollout")

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
