"""``shipdeck state check`` and ``shipdeck state migrate --to postgresql://…``.

Which state store this shipdeck uses (the embedded SQLite file, or a team's
PostgreSQL named by ``$SHIPDECK_STATE_URL`` or the config's ``state_url``),
whether it answers, and its schema version; and a one-time copy of a SQLite
store into a shared one.
"""

from __future__ import annotations

import argparse
from typing import Any

from console.cli_commands.context import CliContext
from console.core.config.loader import check_state_url
from console.core.errors import ExitCode, InvalidInput, StateStoreUnreachable
from console.core.store import SqliteStore
from console.core.store.sqlite import MIGRATIONS as SQLITE_MIGRATIONS


def register(subparsers: argparse._SubParsersAction) -> None:
    state = subparsers.add_parser(
        "state", help="which state store is in use; copy one to PostgreSQL"
    )
    commands = state.add_subparsers(dest="state_command", metavar="SUBCOMMAND", required=True)
    check = commands.add_parser(
        "check", help="which store is in use, whether it is reachable (exit 4 if not), its schema"
    )
    check.set_defaults(handler=handle_check)
    migrate = commands.add_parser(
        "migrate", help="copy the SQLite store into a PostgreSQL one (ids kept, idempotent)"
    )
    migrate.add_argument(
        "--to", required=True, metavar="URL", help="postgresql://USER@HOST:PORT/DATABASE"
    )
    migrate.set_defaults(handler=handle_migrate)


async def handle_check(args: argparse.Namespace, ctx: CliContext) -> int:
    url = ctx.session.state_url()
    if url:
        from console.core.store.postgres import MIGRATIONS, describe_url

        kind, location, latest = "postgresql", describe_url(url), len(MIGRATIONS)
    else:
        kind, location, latest = "sqlite", str(ctx.state_path()), len(SQLITE_MIGRATIONS)
    doc: dict[str, Any] = {
        "store": kind,
        "location": location,
        "reachable": True,
        "schema_version": None,
        "latest_schema_version": latest,
        "error": None,
    }
    try:
        doc["schema_version"] = ctx.store().schema_version()
    except StateStoreUnreachable as error:
        doc.update(reachable=False, error=error.message)
        ctx.out.document(doc, f"state store: {kind} {location}\nreachable: no: {error.message}")
        return int(ExitCode.UNREACHABLE)
    ctx.out.document(
        doc,
        f"state store: {kind} {location}\nreachable: yes\n"
        f"schema version: {doc['schema_version']} (this shipdeck: {latest})",
    )
    return 0


async def handle_migrate(args: argparse.Namespace, ctx: CliContext) -> int:
    cause = check_state_url(args.to)
    if cause:
        raise InvalidInput(f"--to: {cause}")
    path = ctx.state_path()
    if not path.is_file():
        raise InvalidInput(f"no SQLite state store at {path} to copy (pass --state PATH)")
    from console.core.store.postgres import PostgresStore

    source = SqliteStore(path)
    try:
        target = PostgresStore(args.to)
        try:
            counts = target.copy_from(source)
        finally:
            target.close()
    finally:
        source.close()
    tables = {
        table: {"rows": rows, "copied": added, "already_present": rows - added}
        for table, (rows, added) in counts.items()
    }
    lines = [f"copied {path} to {target.location}:"] + [
        f"  {table:<13} {t['rows']:>8} rows, {t['copied']} copied, {t['already_present']} already there"
        for table, t in tables.items()
    ]
    ctx.out.document(
        {"source": str(path), "target": target.location, "tables": tables}, "\n".join(lines)
    )
    return 0
