"""Glue between the CLI and production-changing operations: one OpContext,
events streamed as JSON Lines (``--json``) or as human progress lines."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from console.cli_commands.context import CliContext
from console.core.fleet import Fleet
from console.core.ops.context import OpContext
from console.core.text import printable


@contextlib.asynccontextmanager
async def op_context(ctx: CliContext) -> AsyncIterator[OpContext]:
    config = ctx.config()
    fleet = Fleet(config)

    def listener(event: str, message: str, fields: dict[str, Any]) -> None:
        stamp = str(fields.get("ts", ""))[11:19]
        # Messages quote operators, reasons and engine errors: one line on a terminal.
        ctx.out.event(
            event,
            f"{stamp} {printable(message)}",
            message=message,
            **{k: v for k, v in fields.items() if k != "ts"},
        )

    op = OpContext(
        config=config,
        store=ctx.store(),
        clock=ctx.clock,
        operator=ctx.operator,
        fleet=fleet,
        listeners=[listener],
    )
    try:
        yield op
    finally:
        await fleet.close()


def print_plan(
    ctx: CliContext, title: str, steps: list[str], diff: str, extra: dict[str, Any]
) -> None:
    text = [title] + [f"  {i}. {s}" for i, s in enumerate(steps, 1)]
    text.append("load balancer config diff:" if diff else "load balancer config: unchanged")
    if diff:
        text.append(diff.rstrip("\n"))
    ctx.out.document({"dry_run": True, "plan": steps, "lb_diff": diff, **extra}, "\n".join(text))
