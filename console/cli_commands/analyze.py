"""``shipdeck analyze``: judge a canary now, or replay recorded samples.

    shipdeck analyze SERVICE [--template NAME] [--json]
    shipdeck analyze --samples FILE [--template NAME] [--json]

Exit codes: 0 pass, 1 fail, 3 inconclusive, 2 malformed input.

A samples file is refused (exit 2, one line) when it is larger than 8 MiB, has
more than 10000 intervals or 200000 JSON objects and arrays, nests deeper than
32 levels, or holds NaN, Infinity or a count outside [0, 2**53 - 1]; any file
type is read (a FIFO or ``<(command)`` too), never more than the limit.
"""

from __future__ import annotations

import argparse
from typing import Any

from console.core.errors import ExitCode, InvalidInput
from console.core.judge import AnalysisTemplate
from console.core.replay import load_recording, replay

EXIT_BY_VERDICT = {
    "pass": ExitCode.OK,
    "fail": ExitCode.FAILED,
    "inconclusive": ExitCode.BLOCKED,
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="judge a canary against its baseline (or replay recorded samples)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("service", nargs="?", help="service whose live canary to judge")
    parser.add_argument("--env", default="production", help="environment of the live canary")
    parser.add_argument(
        "--samples", metavar="FILE", help="replay recorded per-interval samples (JSON)"
    )
    parser.add_argument(
        "--template",
        metavar="NAME",
        help="analysis template from the config ([analysis.NAME]); default: 'default'",
    )
    # also accepted after the subcommand; SUPPRESS keeps a global --json intact
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    parser.set_defaults(handler=handle)


def resolve_template(name: str | None, config: Any | None) -> AnalysisTemplate:
    """The named template from the config, or the documented defaults when no
    config / no ``[analysis.default]`` exists. An unknown explicit name is an
    error: silently judging with other parameters than asked would be worse."""
    templates: dict[str, AnalysisTemplate] = {}
    if config is not None:
        templates = dict(getattr(config, "analysis_templates", {}) or {})
    wanted = name or "default"
    if wanted in templates:
        return templates[wanted]
    if wanted == "default":
        return AnalysisTemplate()
    known = ", ".join(sorted(templates)) or "none configured"
    raise InvalidInput(f"analyze: no analysis template {wanted!r} (known: {known})")


def render_text(result: dict[str, Any]) -> str:
    verdict = result["verdict"]
    if result["decided_at_interval"] is not None:
        head = (
            f"{verdict.upper()} at interval {result['decided_at_interval']}"
            f" ({result['decided_at_s']} s)"
        )
    else:
        head = f"{verdict.upper()} (no decision)"
    lines = [head]
    lines += [f"  {m['explanation']}" for m in result["metrics"]]
    return "\n".join(lines)


async def handle(args: argparse.Namespace, ctx: Any) -> int:
    if args.samples:
        if args.service:
            raise InvalidInput("analyze: give SERVICE or --samples FILE, not both")
        template = resolve_template(args.template, ctx.config_or_none())
        result = replay(load_recording(args.samples), template)
        ctx.out.document(result, render_text(result))
        return int(EXIT_BY_VERDICT[result["verdict"]])
    if args.service:
        from console.cli_commands.opsupport import op_context
        from console.core.ops.analyze import analyze_service

        ctx.config().service(args.service)
        async with op_context(ctx) as op:
            result = await analyze_service(op, args.service, args.env, args.template)
        ctx.out.document(result, render_text(result))
        return int(EXIT_BY_VERDICT[result["verdict"]])
    raise InvalidInput("analyze: give SERVICE or --samples FILE")
