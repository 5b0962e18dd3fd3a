"""``shipdeck flags …``: on-call flips flags from the terminal; every change is audited.

The flags file is ``--flags PATH``, else the config's ``flags_path``, else
``./config/flags.toml``. Every write goes through ``FlagStore.mutate`` (file lock,
atomic replace) and is recorded in the state store's flag audit. Invalid keys,
percentages outside 0–100, unknown flags and an invalid flags file exit 2 with the
file unchanged; a file system that refuses the write exits 1, file unchanged;
``kill`` and ``delete`` need ``--yes`` when stdin is not a terminal.

Text output quotes operator-supplied strings (descriptions, owners, notes, user
ids, override values) with control characters escaped, so a flags file cannot
drive the terminal; ``--json`` keeps them, JSON-escaped.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from console.core.errors import Blocked, InvalidInput
from console.core.text import printable
from console.flags.evaluate import FlagFile
from console.flags.lifecycle import cleanup_ticket_text, find_stale, new_flag
from console.flags.model import (
    ENVIRONMENTS,
    FLAG_TYPES,
    STAGES,
    Flag,
    FlagSet,
    Override,
    overrides_for,
    parse_rule,
    require_environment,
    require_key,
    require_percent,
    require_stage,
)
from console.flags.refs import scan_references
from console.flags.store import FlagStore

DEFAULT_FLAGS_PATH = Path("config/flags.toml")
# ASCII digits only: int() also takes "١٠" and "1_0", and str.isdigit() takes "²".
_PERCENT_TEXT = re.compile(r"\s*([0-9]{1,3})%?\s*", re.ASCII)

DESCRIPTION = """Feature flags in a TOML file: flip them here, evaluate them in-process
(from console.flags import FlagFile). Every change is locked, atomic and audited."""

EPILOG = """flags file: --flags PATH, else the config's flags_path, else ./config/flags.toml.
A new flag starts off everywhere; `kill` turns it off in every environment at once
and `on` re-arms it. Running apps pick changes up within their poll interval (0.5 s).

process overrides (simplest setups): SHIPDECK_FLAG_<KEY>=on|off|<percent>, the key
upper-cased with - and . as _, e.g. SHIPDECK_FLAG_NEW_CHECKOUT_FLOW=25. An override
replaces the flag's state in the process that has it; `flags list` shows it.

Invalid keys, percentages outside 0-100, unknown flags and an invalid flags file
exit 2, file unchanged; a flags file or directory that cannot be written exits 1."""


# Subcommands that change the flags file: each takes --dry-run.
CHANGING = ("create", "set", "on", "off", "kill", "target", "stage", "delete")


def register(subparsers: argparse._SubParsersAction) -> None:
    flags = subparsers.add_parser(
        "flags",
        help="feature flags: list, flip, kill, explain, find stale ones",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _flags_option(flags)
    flags.set_defaults(handler=handle_list)
    sub = flags.add_subparsers(dest="flags_command", metavar="SUBCOMMAND")

    def add(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text, description=help_text)
        _flags_option(parser)
        if name in CHANGING:
            parser.add_argument(
                "--dry-run",
                action="store_true",
                help="print the change this would make; write nothing",
            )
        parser.set_defaults(handler=handler)
        return parser

    add("list", handle_list, "list flags with their state per environment and overrides")
    add("show", handle_show, "show every field of one flag").add_argument("key")

    create = add(
        "create", handle_create, "create a flag (off everywhere) and print its cleanup ticket"
    )
    create.add_argument("key")
    create.add_argument("--owner", required=True, help="team or person who removes it")
    create.add_argument("--type", required=True, choices=FLAG_TYPES, dest="flag_type")
    create.add_argument("--description", default="")
    create.add_argument(
        "--cleanup-by", metavar="YYYY-MM-DD", help="default: created + 30 days (release)"
    )
    create.add_argument("--ticket", default="", help="cleanup ticket reference, e.g. PAY-123")

    set_ = add("set", handle_set, "set the rollout percentage (all environments unless --env)")
    set_.add_argument("key")
    set_.add_argument("--percent", required=True, metavar="N", help="0-100")
    _env_option(set_)

    for name, handler, text in (
        ("on", handle_on, "turn a flag on (and re-arm its global switch)"),
        ("off", handle_off, "turn a flag off (all environments unless --env)"),
    ):
        parser = add(name, handler, text)
        parser.add_argument("key")
        _env_option(parser)

    add("kill", handle_kill, "kill switch: off everywhere, now").add_argument("key")

    target = add("target", handle_target, "edit allow/deny lists and rules")
    target.add_argument("key")
    target.add_argument("--allow", nargs="+", default=[], metavar="USER")
    target.add_argument("--deny", nargs="+", default=[], metavar="USER")
    target.add_argument("--remove", nargs="+", default=[], metavar="USER", help="from both lists")
    target.add_argument(
        "--rule", action="append", default=[], metavar="RULE", help="'country in DE,NL', 'v>=2.1.0'"
    )
    target.add_argument("--clear-rules", action="store_true")

    stage = add("stage", handle_stage, f"set the lifecycle stage ({' → '.join(STAGES)})")
    stage.add_argument("key")
    stage.add_argument("stage")

    explain = add("explain", handle_explain, "evaluate a flag for a user and print the trace")
    explain.add_argument("key")
    explain.add_argument("--user", default=None, metavar="U")
    explain.add_argument("--attr", action="append", default=[], metavar="K=V")
    _env_option(explain, default="production")

    add("stale", handle_stale, "flags to remove: fully on >14 days, past cleanup_by, too old")
    refs = add("refs", handle_refs, "find code references to each flag (respects .gitignore)")
    refs.add_argument("path", nargs="?", default=".")
    add("delete", handle_delete, "remove a flag from the file").add_argument("key")


def _flags_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--flags", metavar="PATH", default=argparse.SUPPRESS, help="flags file (TOML)"
    )


def _env_option(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    parser.add_argument(
        "--env",
        choices=ENVIRONMENTS,
        default=default,
        metavar="ENV",
        help=f"{' or '.join(ENVIRONMENTS)}" + (f" (default {default})" if default else ""),
    )


# -- shared plumbing -------------------------------------------------------------------------


def flags_path(args: argparse.Namespace, ctx: Any) -> Path:
    """``--flags``, else the config's ``flags_path``, else ``./config/flags.toml``."""
    explicit = getattr(args, "flags", None)
    if explicit:
        return Path(explicit)
    config = ctx.config_or_none()
    if config is not None:
        return Path(config.flags_path)
    return DEFAULT_FLAGS_PATH


def _store(args: argparse.Namespace, ctx: Any) -> FlagStore:
    return FlagStore(flags_path(args, ctx))


def _confirm(args: argparse.Namespace, action: str, prompt: str) -> None:
    if getattr(args, "yes", False) or getattr(args, "dry_run", False):
        return
    if not sys.stdin.isatty():
        raise Blocked(f"{action}: confirmation required: pass --yes")
    if input(f"{prompt} [y/N] ").strip().lower() not in ("y", "yes"):
        raise Blocked(f"{action}: not confirmed")


def _mutate(args: argparse.Namespace, ctx: Any, fn: Any) -> FlagSet:
    """Validate the key, then change the file under its lock and audit the change."""
    require_key(args.key)
    store = _store(args, ctx)
    if getattr(args, "dry_run", False):
        # The same change function on the same file, not written: the plan is the run.
        return fn(store.load())

    def audit(*record: Any) -> None:
        # Opened only once a change is written: a refused command creates no state DB.
        ctx.store().record_flag_change(*record)

    return store.mutate(fn, ctx.operator, audit, now=ctx.now)


def _envs(args: argparse.Namespace) -> tuple[str, ...]:
    return (require_environment(args.env),) if args.env else ENVIRONMENTS


def _state(flag: Flag, env: str) -> str:
    if not flag.enabled:
        return "KILLED"
    state = flag.env(env)
    return f"on {state.percent}%" if state.enabled else "off"


def _percent(text: str) -> int:
    match = _PERCENT_TEXT.fullmatch(text)
    if match is None:
        raise InvalidInput(f"invalid percentage {text[:20]!r}: must be an integer 0–100")
    return require_percent(int(match.group(1)))


def _overrides(flags: FlagSet) -> dict[str, Override]:
    return overrides_for(flags.flags.keys(), os.environ)


def _flag_doc(flag: Flag, override: Override | None) -> dict[str, Any]:
    doc = flag.to_json()
    doc["override"] = (
        None
        if override is None
        else {
            "variable": override.variable,
            "value": override.raw,
            "valid": override.error is None,
            "error": override.error,
        }
    )
    return doc


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _done(ctx: Any, flag: Flag | None, text: str, **extra: Any) -> int:
    doc: dict[str, Any] = {"flag": flag.to_json() if flag else None, **extra}
    if getattr(ctx.args, "dry_run", False):
        doc["dry_run"] = True
        text = f"plan (dry run, nothing written): {text}"
    ctx.out.document(doc, text)
    return 0


# -- read-only commands ----------------------------------------------------------------------


async def handle_list(args: argparse.Namespace, ctx: Any) -> int:
    path = flags_path(args, ctx)
    flags = FlagStore(path).load()
    overrides = _overrides(flags)
    rows = [["KEY", "TYPE", "STAGE", "OWNER", *(e.upper() for e in ENVIRONMENTS), "CLEANUP_BY"]]
    notes: list[str] = []
    for flag in flags:
        rows.append(
            [
                flag.key,
                flag.type,
                flag.stage,
                printable(flag.owner),
                *(_state(flag, env) for env in ENVIRONMENTS),
                flag.cleanup_by.isoformat() if flag.cleanup_by else "-",
            ]
        )
        if flag.key in overrides:
            notes.append(f"override: {flag.key}: {printable(overrides[flag.key].describe())}")
    if len(flags):
        text = _table(rows)
    elif not path.exists():
        text = f"no flags file at {printable(str(path))} (shipdeck flags create KEY --owner O --type T creates it)"
    else:
        text = f"no flags in {printable(str(path))}"
    if notes:
        text += "\n\n" + "\n".join(notes)
    doc = {
        "flags_path": str(path),
        "flags": [_flag_doc(flag, overrides.get(flag.key)) for flag in flags],
    }
    ctx.out.document(doc, text)
    return 0


async def handle_show(args: argparse.Namespace, ctx: Any) -> int:
    require_key(args.key)
    flags = _store(args, ctx).load()
    flag = flags.require(args.key)
    override = _overrides(flags).get(flag.key)
    lines = [
        f"{flag.key}: {printable(flag.description) or '(no description)'}",
        f"  owner        {printable(flag.owner)}",
        f"  type         {flag.type}",
        f"  stage        {flag.stage}",
        f"  created      {flag.created.isoformat()}",
        f"  global       {'on' if flag.enabled else 'KILLED (enabled = false)'}",
    ]
    for env in ENVIRONMENTS:
        state = flag.env(env)
        since = f" since {state.changed_at.isoformat()}" if state.changed_at else ""
        lines.append(f"  {env:<12} {_state(flag, env)}{since}")
    lines += [
        f"  stickiness   {flag.stickiness}",
        f"  allow        {printable(', '.join(flag.allow)) or '-'}",
        f"  deny         {printable(', '.join(flag.deny)) or '-'}",
        f"  rules        {printable('; '.join(r.describe() for r in flag.rules)) or '-'}",
        f"  cleanup_by   {flag.cleanup_by.isoformat() if flag.cleanup_by else '-'}",
        f"  ticket       {printable(flag.cleanup_ticket) or '-'}",
        f"  notes        {printable(flag.notes) or '-'}",
        f"  changed      {flag.last_changed_at.isoformat() if flag.last_changed_at else '-'}"
        f" by {printable(flag.last_changed_by) or '-'}",
    ]
    if override is not None:
        lines.append(f"  override     {printable(override.describe())}")
    ctx.out.document(_flag_doc(flag, override), "\n".join(lines))
    return 0


async def handle_explain(args: argparse.Namespace, ctx: Any) -> int:
    require_key(args.key)
    env = require_environment(args.env)
    path = flags_path(args, ctx)
    FlagStore(path).load().require(args.key)  # invalid file or unknown flag: exit 2
    context: dict[str, str] = {}
    for item in args.attr:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"invalid --attr {item!r}: expected KEY=VALUE")
        context[name.strip()] = value
    if args.user is not None:
        context["user_id"] = args.user
    evaluator = FlagFile(path, env, watch=False)
    explanation = evaluator.explain(args.key, context=context)
    evaluator.close()
    text = "\n".join(printable(line) for line in _explanation_lines(explanation))
    ctx.out.document(explanation.to_json(), text)
    return 0


def _explanation_lines(explanation: Any) -> list[str]:
    """``str(explanation)`` as lines, each step one line even if a value holds a newline."""
    head = str(explanation).partition("\n")[0]  # the key is validated: no newline in it
    return [head, *(f"  {i}. {step}" for i, step in enumerate(explanation.steps, 1))]


async def handle_stale(args: argparse.Namespace, ctx: Any) -> int:
    path = flags_path(args, ctx)
    findings = find_stale(FlagStore(path).load(), ctx.now())
    if findings:
        rows = [["KEY", "REASON", "OWNER", "DETAIL"]]
        rows += [[f.key, f.code, printable(f.owner), printable(f.message)] for f in findings]
        text = _table(rows)
    else:
        text = f"no stale flags in {printable(str(path))}"
    ctx.out.document({"flags_path": str(path), "stale": [f.to_json() for f in findings]}, text)
    return 0


async def handle_refs(args: argparse.Namespace, ctx: Any) -> int:
    path = flags_path(args, ctx)
    flags = FlagStore(path).load()
    root = Path(args.path)
    if not root.is_dir():
        raise InvalidInput(f"flags refs: {root} is not a directory")
    found = scan_references(root, flags.flags.keys(), exclude=[path])
    lines: list[str] = []
    for key, references in found.items():
        if not references:
            lines.append(f"{key}: no references — safe to delete")
            continue
        lines.append(f"{key}: {len(references)} reference(s)")
        lines += [f"  {printable(str(ref))}" for ref in references]
    doc = {
        "root": str(root),
        "flags": {
            key: {"references": [r.to_json() for r in refs], "safe_to_delete": not refs}
            for key, refs in found.items()
        },
    }
    ctx.out.document(doc, "\n".join(lines) or f"no flags in {path}")
    return 0


# -- changing commands -----------------------------------------------------------------------


async def handle_create(args: argparse.Namespace, ctx: Any) -> int:
    require_key(args.key)
    cleanup_by: date | None = None
    if args.cleanup_by:
        try:
            cleanup_by = date.fromisoformat(args.cleanup_by)
        except ValueError:
            raise InvalidInput(
                f"invalid --cleanup-by {args.cleanup_by!r}: expected YYYY-MM-DD"
            ) from None
    flag = new_flag(
        args.key,
        owner=args.owner,
        flag_type=args.flag_type,
        created=ctx.now().date(),
        description=args.description,
        cleanup_by=cleanup_by,
        cleanup_ticket=args.ticket,
    )

    def create(flags: FlagSet) -> FlagSet:
        if args.key in flags:
            raise InvalidInput(f"flag {args.key!r} already exists")
        return flags.with_flag(flag)

    written = _mutate(args, ctx, create).require(args.key)
    ticket = cleanup_ticket_text(written, str(flags_path(args, ctx)))
    shown = replace(
        written, owner=printable(written.owner), description=printable(written.description)
    )
    shown_ticket = cleanup_ticket_text(shown, printable(str(flags_path(args, ctx))))
    text = (
        f"created {written.key} ({written.type}, owner {printable(written.owner)}): off everywhere\n\n"
        f"Cleanup ticket — file it now:\n\n{shown_ticket}"
    )
    return _done(ctx, written, text, cleanup_ticket_text=ticket)


async def handle_set(args: argparse.Namespace, ctx: Any) -> int:
    percent = _percent(args.percent)
    envs = _envs(args)
    before: dict[str, int] = {}

    def set_percent(flags: FlagSet) -> FlagSet:
        flag = flags.require(args.key)
        for env in envs:
            before[env] = flag.env(env).percent
            flag = flag.with_env(env, percent=percent)
        return flags.with_flag(flag)

    flag = _mutate(args, ctx, set_percent).require(args.key)
    parts = [f"{env} {before[env]}% → {percent}% ({_state(flag, env)})" for env in envs]
    return _done(ctx, flag, f"{flag.key}: " + ", ".join(parts))


async def handle_on(args: argparse.Namespace, ctx: Any) -> int:
    envs = _envs(args)

    def turn_on(flags: FlagSet) -> FlagSet:
        flag = replace(flags.require(args.key), enabled=True)
        for env in envs:
            flag = flag.with_env(env, enabled=True)
        return flags.with_flag(flag)

    flag = _mutate(args, ctx, turn_on).require(args.key)
    parts = [f"{env} {_state(flag, env)}" for env in envs]
    hint = ""
    if any(flag.env(env).percent == 0 for env in envs):
        hint = f" (0% rolls out to nobody: shipdeck flags set {flag.key} --percent N)"
    return _done(ctx, flag, f"{flag.key}: " + ", ".join(parts) + hint)


async def handle_off(args: argparse.Namespace, ctx: Any) -> int:
    envs = _envs(args)

    def turn_off(flags: FlagSet) -> FlagSet:
        flag = flags.require(args.key)
        for env in envs:
            flag = flag.with_env(env, enabled=False)
        return flags.with_flag(flag)

    flag = _mutate(args, ctx, turn_off).require(args.key)
    return _done(ctx, flag, f"{flag.key}: " + ", ".join(f"{env} off" for env in envs))


async def handle_kill(args: argparse.Namespace, ctx: Any) -> int:
    require_key(args.key)
    _store(args, ctx).load().require(args.key)
    _confirm(args, "flags kill", f"Kill {args.key} in every environment now?")

    def kill(flags: FlagSet) -> FlagSet:
        flag = replace(flags.require(args.key), enabled=False)
        for env in ENVIRONMENTS:
            flag = flag.with_env(env, enabled=False)
        return flags.with_flag(flag)

    flag = _mutate(args, ctx, kill).require(args.key)
    text = (
        f"{flag.key}: KILLED — off in every environment; running apps see it within "
        f"their poll interval (0.5 s by default). Re-enable with: shipdeck flags on {flag.key}"
    )
    return _done(ctx, flag, text)


async def handle_target(args: argparse.Namespace, ctx: Any) -> int:
    rules = [parse_rule(text) for text in args.rule]
    if not (args.allow or args.deny or args.remove or rules or args.clear_rules):
        raise InvalidInput("flags target: nothing to do: pass --allow, --deny, --remove or --rule")
    overlap = set(args.allow) & set(args.deny)
    if overlap:
        raise InvalidInput(f"flags target: {sorted(overlap)[0]!r} is in both --allow and --deny")

    def target(flags: FlagSet) -> FlagSet:
        flag = flags.require(args.key)
        drop = set(args.remove)
        allow = [u for u in flag.allow if u not in drop and u not in args.deny]
        deny = [u for u in flag.deny if u not in drop and u not in args.allow]
        allow += [u for u in args.allow if u not in allow]
        deny += [u for u in args.deny if u not in deny]
        kept = () if args.clear_rules else flag.rules
        flag = replace(flag, allow=tuple(allow), deny=tuple(deny), rules=(*kept, *rules))
        return flags.with_flag(flag)

    flag = _mutate(args, ctx, target).require(args.key)
    text = printable(
        f"{flag.key}: allow [{', '.join(flag.allow)}], deny [{', '.join(flag.deny)}], "
        f"rules [{'; '.join(r.describe() for r in flag.rules)}]"
    )
    return _done(ctx, flag, text)


async def handle_stage(args: argparse.Namespace, ctx: Any) -> int:
    stage = require_stage(args.stage)
    previous: list[str] = []

    def set_stage(flags: FlagSet) -> FlagSet:
        flag = flags.require(args.key)
        previous.append(flag.stage)
        return flags.with_flag(replace(flag, stage=stage))

    flag = _mutate(args, ctx, set_stage).require(args.key)
    return _done(ctx, flag, f"{flag.key}: stage {previous[-1]} → {stage}")


async def handle_delete(args: argparse.Namespace, ctx: Any) -> int:
    require_key(args.key)
    _store(args, ctx).load().require(args.key)
    _confirm(args, "flags delete", f"Delete flag {args.key} from the flags file?")
    _mutate(args, ctx, lambda flags: flags.without(args.key))
    return _done(ctx, None, f"deleted {args.key}", deleted=args.key)
