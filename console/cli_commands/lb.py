"""``shipdeck lb show SERVICE [--env E]``: weights as the LB has them, and who answers."""

from __future__ import annotations

import argparse

from console.cli_commands.context import CliContext
from console.cli_commands.opsupport import op_context
from console.core.text import printable


def register(subparsers: argparse._SubParsersAction) -> None:
    lb = subparsers.add_parser("lb", help="inspect load balancers")
    sub = lb.add_subparsers(dest="lb_command", metavar="SUBCOMMAND", required=True)
    show = sub.add_parser("show", help="current weights per backend and the answering release")
    show.add_argument("service")
    show.add_argument("--env", default="production")
    show.set_defaults(handler=handle_show)


async def handle_show(args: argparse.Namespace, ctx: CliContext) -> int:
    service = ctx.config().service(args.service)
    if args.env not in service.environments:
        from console.core.errors import InvalidInput

        raise InvalidInput(f"{args.service} has no environment {args.env!r}")
    async with op_context(ctx) as op:
        view = await op.lbs.show(args.service, args.env)
    # What the LB and the instances answered is not shipdeck's text: one line each.
    answering = printable(str(view["answering_release"] or "-"))
    preview = printable(str(view["preview_release"] or "-"))
    lines = [
        f"{args.service}/{args.env} via {view['load_balancer']}: answering {answering}"
        f", preview {preview}"
    ]
    for b in view["backends"]:
        state = "" if b["up"] is None else (" up" if b["up"] else " DOWN")
        name, release = printable(str(b["name"])), printable(str(b["release"]))
        lines.append(
            f"  {name:<24} {b['address']}:{b['port']:<6} {release:<14} {b['color']:<6} {b['weight_pct']:>3}%{state}"
        )
    ctx.out.document(view, "\n".join(lines))
    return 0
