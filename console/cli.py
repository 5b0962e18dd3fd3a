"""The headless face: ``shipdeck [--config P] [--state P] [--json] COMMAND``.

Thin by design: parse arguments, call ``console.core`` through a command
module, print through ``Output``, map ``ShipdeckError`` to its exit code.
With no command it opens the Textual console.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from console.cli_commands.context import CliContext
from console.cli_commands.output import Output
from console.core.errors import ConfigInvalid, ExitCode, InvalidInput, ShipdeckError
from engines.redact import redact_urls_in

# Command modules in console/cli_commands, in the order --help lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "deploy",
    "rollback",
    "releases",
    "promote",
    "status",
    "history",
    "lock",
    "hosts",
    "lb",
    "analyze",
    "pipeline",
    "drill",
    "flags",
    "config_cmd",
    "state",
    "console.demo.command",  # launches the console too, so it lives beside the demo, in neither face
)

EPILOG = """exit codes:
  0  success
  1  the operation failed (for a deploy: it was rolled back)
  2  invalid input or config
  3  blocked (lock held, precondition unmet, confirmation refused)
  4  infrastructure unreachable (host, load balancer, metrics)

With --json, short commands print one JSON document; long-running commands
print JSON Lines (one event per line with "event" and "ts"). Errors go to
stderr and, with --json, also to stdout as {"error": {"code", "message"}}.
Destructive commands need --yes when stdin is not a terminal."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so --json gets a JSON error."""

    def error(self, message: str) -> NoReturn:
        raise InvalidInput(f"{self.prog}: {message}")


def add_global_options(parser: argparse.ArgumentParser) -> None:
    """Options accepted both before and after the command name.

    Defaults are suppressed so a subcommand never resets what was given
    before it; ``_normalise`` fills the defaults afterwards.
    """
    parser.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
    parser.add_argument(
        "--state", metavar="PATH", default=argparse.SUPPRESS, help="state store path"
    )
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
    )
    parser.add_argument(
        "--yes",
        "-y",
        action="store_true",
        default=argparse.SUPPRESS,
        help="confirm destructive actions",
    )


class _CommandParser(_Parser):
    """Every command (and nested subcommand) parser accepts the global options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("conflict_handler", "resolve")
        super().__init__(*args, **kwargs)
        add_global_options(self)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="shipdeck",
        description="Make deploying boring: blue-green, canaries with an automated judge, one-command rollback.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_global_options(parser)
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="open the console with every changing action disabled",
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_CommandParser
    )
    for name in COMMAND_MODULES:
        module_name = name if "." in name else f"console.cli_commands.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                continue
            raise
        module.register(subparsers)
    return parser


def _normalise(args: argparse.Namespace, argv: Sequence[str]) -> argparse.Namespace:
    for name, default in (("config", None), ("state", None), ("json", False), ("yes", False)):
        if not hasattr(args, name):
            setattr(args, name, default)
    # A command that declares its own --json/--yes default must not undo a global one.
    options = _options(argv)
    args.json = bool(args.json) or "--json" in options
    args.yes = bool(args.yes) or "--yes" in options
    return args


def _options(argv: Sequence[str]) -> list[str]:
    return list(argv[: argv.index("--")] if "--" in argv else argv)


def _wants_json(argv: Sequence[str]) -> bool:
    return "--json" in _options(argv)


def run(argv: Sequence[str] | None = None, output: Output | None = None) -> int:
    """Parse and run one command; returns the exit code (never raises ShipdeckError)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out = output or Output(_wants_json(argv))
    try:
        parser = build_parser()
        args = _normalise(parser.parse_args(argv), argv)
    except ShipdeckError as error:
        out.error(error.code, error.message, int(error.exit_code))
        return int(error.exit_code)
    except SystemExit as done:
        # --help and --version print and "exit": in-process callers get the code back.
        if done.code is None or isinstance(done.code, int):
            return int(done.code or 0)
        return int(ExitCode.INVALID)
    if args.command is None:
        return _open_console(args, out)
    ctx = CliContext(args, out)
    try:
        handler: Any = args.handler
        return int(asyncio.run(handler(args, ctx)))
    except ConfigInvalid as error:
        details = [_redact_secret_keys(line) for line in error.errors]
        out.error(
            error.code, _redact_secret_keys(error.message), int(error.exit_code), details=details
        )
        return int(error.exit_code)
    except ShipdeckError as error:
        out.error(error.code, error.message, int(error.exit_code))
        return int(error.exit_code)
    except KeyboardInterrupt:
        out.error("interrupted", "interrupted", 130)
        return 130
    finally:
        ctx.close()


def _redact_secret_keys(line: str) -> str:
    """A config error about a webhook or Prometheus URL, with the URL in it redacted.

    The loader quotes the value it rejects, and a rejected webhook URL still
    carries its token. Other errors keep their URLs (``ssh://user@host:port``
    hints are useful and hold no secret).
    """
    if "webhooks" in line or "prometheus_url" in line:
        return redact_urls_in(line)
    return line


def _open_console(args: argparse.Namespace, out: Output) -> int:
    try:
        tui = importlib.import_module("console.tui.app")
    except ModuleNotFoundError:
        out.error(
            "invalid", "the console is not available in this build; use a COMMAND (see --help)", 2
        )
        return int(ExitCode.INVALID)
    return int(tui.run_console(args))


def main(argv: Sequence[str] | None = None) -> int:
    return run(argv)


if __name__ == "__main__":
    raise SystemExit(main())
