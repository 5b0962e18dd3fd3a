"""``shipdeck pipeline SERVICE IMAGE``: staging → production canary → rollout → verification."""

from __future__ import annotations

import argparse

from console.cli_commands.context import CliContext
from console.cli_commands.opsupport import op_context, print_plan
from console.core.text import printable


def register(subparsers: argparse._SubParsersAction) -> None:
    pipeline = subparsers.add_parser(
        "pipeline", help="staging deploy, production canary, rollout, verification (CI)"
    )
    pipeline.add_argument("service")
    pipeline.add_argument("image")
    pipeline.add_argument(
        "--dry-run", action="store_true", help="print every stage's plan; change nothing"
    )
    pipeline.set_defaults(handler=handle_pipeline)


async def handle_pipeline(args: argparse.Namespace, ctx: CliContext) -> int:
    ctx.config().service(args.service)
    from console.core.ops.pipeline import pipeline

    if args.dry_run:
        async with op_context(ctx) as op:
            plan = await pipeline(op, args.service, args.image, dry_run=True)
        print_plan(ctx, f"plan: pipeline {args.service} {args.image}", plan.plan, "", {})
        return 0
    ctx.confirm(f"run the pipeline for {args.service} with {args.image}")

    async with op_context(ctx) as op:
        result = await pipeline(op, args.service, args.image)
    text = f"{args.service}: pipeline {result.outcome}"
    if result.stage:
        text += f" at stage {result.stage}: {printable(str(result.reason))}"
    ctx.out.event("summary", text, **result.to_dict())
    return result.exit_code
