"""``shipdeck deploy SERVICE IMAGE [--env E] [--strategy S] [--yes] [--json]``."""

from __future__ import annotations

import argparse

from console.cli_commands.context import CliContext
from console.cli_commands.opsupport import op_context, print_plan
from console.core.errors import InvalidInput
from console.core.ops.context import OpContext
from console.core.store import Outcome
from console.core.text import printable


def register(subparsers: argparse._SubParsersAction) -> None:
    deploy = subparsers.add_parser("deploy", help="deploy an image (blue-green or canary)")
    deploy.add_argument("service")
    deploy.add_argument("image", nargs="?", help="TAG, REPOSITORY:TAG or REPOSITORY@sha256:DIGEST")
    deploy.add_argument("--env", default="production", help="environment (default production)")
    deploy.add_argument(
        "--strategy", choices=("blue-green", "canary"), help="default: the service's strategy"
    )
    deploy.add_argument(
        "--lock-wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait for a live lock holder",
    )
    deploy.add_argument(
        "--dry-run", action="store_true", help="print the plan and LB config diff; change nothing"
    )
    deploy.add_argument("--resume", action="store_true", help="complete an interrupted deployment")
    deploy.add_argument(
        "--schema-needs", type=int, help="schema version this release needs (migration gate)"
    )
    deploy.add_argument(
        "--schema-supports", type=int, help="oldest schema version it still supports"
    )
    deploy.add_argument(
        "--verify", type=float, metavar="SECONDS", help="post-deploy verification window override"
    )
    deploy.set_defaults(handler=handle_deploy)


async def handle_deploy(args: argparse.Namespace, ctx: CliContext) -> int:
    config = ctx.config()
    service = config.service(args.service)
    if args.resume and args.image:
        raise InvalidInput("deploy --resume takes no IMAGE: it completes the recorded deployment")
    if not args.resume and not args.image:
        raise InvalidInput("deploy: IMAGE is required (or --resume)")
    strategy = args.strategy or service.strategy
    if not args.dry_run:
        ctx.confirm(f"deploy {args.image or 'resume'} to {args.service}/{args.env}")
    async with op_context(ctx) as op:
        if strategy == "canary" or (args.resume and _resuming_canary(op, args.service, args.env)):
            from console.core.ops.canary import CanaryRequest, deploy_canary

            request = CanaryRequest(
                args.service,
                args.env,
                args.image,
                args.lock_wait,
                args.dry_run,
                args.resume,
                args.schema_needs,
                args.schema_supports,
            )
            result = await deploy_canary(op, request)
        else:
            from console.core.ops.bluegreen import DeployRequest, deploy_blue_green

            request = DeployRequest(
                args.service,
                args.env,
                args.image,
                strategy,
                args.lock_wait,
                args.dry_run,
                args.resume,
                args.schema_needs,
                args.schema_supports,
                args.verify,
            )
            result = await deploy_blue_green(op, request)
    if result.outcome == Outcome.PLANNED:
        print_plan(
            ctx,
            f"plan: deploy {result.release} to {args.service}/{args.env} ({strategy})",
            result.plan,
            result.lb_diff,
            {"service": args.service, "environment": args.env, "release": result.release},
        )
        return 0
    summary = result.to_dict()
    summary.pop("plan", None)
    summary.pop("lb_diff", None)
    text = f"{args.service}/{args.env}: {result.outcome}" + (
        f": {printable(result.reason)}" if result.reason else ""
    )
    ctx.out.event("summary", text, **summary)
    return result.exit_code


def _resuming_canary(op: OpContext, service: str, env: str) -> bool:
    running = op.store.in_progress(service, env)
    return bool(running) and running[-1].strategy == "canary"
