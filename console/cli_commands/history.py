"""``shipdeck history [SERVICE] [--limit N] [--since ISO] [--before ID]``: newest first, paged."""

from __future__ import annotations

import argparse

from console.cli_commands.context import CliContext
from console.core.clock import iso, parse_iso
from console.core.errors import InvalidInput
from console.core.store import Deployment, StateStore
from console.core.text import printable


def register(subparsers: argparse._SubParsersAction) -> None:
    history = subparsers.add_parser("history", help="deployments, newest first")
    history.add_argument("service", nargs="?")
    history.add_argument("--limit", type=int, default=20, help="page size (default 20)")
    history.add_argument("--since", help="only deployments started at or after this ISO 8601 time")
    history.add_argument(
        "--before", type=_deployment_id, metavar="ID", help="page: deployments older than this id"
    )
    history.add_argument("--events", action="store_true", help="include each deployment's events")
    history.set_defaults(handler=handle_history)


def _deployment_id(text: str) -> int:
    """An id SQLite can hold: a 30-digit ``--before`` is invalid input, not an OverflowError."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid id: {text!r}") from None
    if not 1 <= value <= 2**63 - 1:
        raise argparse.ArgumentTypeError(f"{text[:30]}: expected a deployment id (1 or more)")
    return value


def deployment_doc(deployment: Deployment, store: StateStore) -> dict:
    def release_name(release_id: int | None) -> str | None:
        if release_id is None:
            return None
        release = store.release(release_id)
        return release.name if release else None

    def release_ref(release_id: int | None) -> str | None:
        release = store.release(release_id) if release_id is not None else None
        return release.image_ref if release else None

    return {
        "id": deployment.id,
        "service": deployment.service,
        "environment": deployment.environment,
        "kind": deployment.kind,
        "strategy": deployment.strategy,
        "from_release": release_name(deployment.from_release),
        "to_release": release_name(deployment.to_release),
        "to_image": release_ref(deployment.to_release),
        "operator": deployment.operator,
        "started_at": iso(deployment.started_at),
        "finished_at": iso(deployment.finished_at),
        "duration_s": deployment.duration_s,
        "outcome": deployment.outcome,
        "reason": deployment.reason,
        "step": deployment.step,
    }


async def handle_history(args: argparse.Namespace, ctx: CliContext) -> int:
    since = None
    if args.since:
        try:
            since = parse_iso(args.since)
        except ValueError:
            raise InvalidInput(
                f"--since {args.since!r}: expected an ISO 8601 time, e.g. 2026-11-30T10:00:00Z"
            ) from None
    config = ctx.config_or_none()
    if args.service and config is not None:
        config.service(args.service)
    store = ctx.store()
    rows = store.history(args.service, limit=args.limit, since=since, before_id=args.before)
    docs = []
    for row in rows:
        doc = deployment_doc(row, store)
        if args.events:
            doc["events"] = [
                {"ts": iso(e.ts), "kind": e.kind, "message": e.message, "data": e.data}
                for e in store.events(row.id, limit=10_000)
            ]
        docs.append(doc)
    next_before = rows[-1].id if len(rows) == args.limit else None
    lines = []
    # Operator, reason, release names and event messages were typed by people (or
    # quote engines): one line each, nothing a terminal obeys. JSON keeps them whole.
    for doc in docs:
        duration = f"{doc['duration_s']:.1f}s" if doc["duration_s"] is not None else "running"
        change = f"{printable(doc['from_release'] or '-')} → {printable(doc['to_release'] or '-')}"
        lines.append(
            f"#{doc['id']:<5} {doc['started_at'][:19]}  {doc['service']}/{doc['environment']}  "
            f"{change}  {doc['kind']}/{doc['strategy']}  "
            f"{printable(doc['operator'])}  {doc['outcome']}  {duration}"
            + (f"  ({printable(doc['reason'])})" if doc["reason"] else "")
        )
        for event in doc.get("events", []):
            lines.append(
                f"        {event['ts'][11:19]} {printable(event['kind'])}: "
                f"{printable(event['message'])}"
            )
    if not lines:
        lines.append("no deployments")
    elif next_before:
        lines.append(f"… more: --before {next_before}")
    ctx.out.document({"deployments": docs, "next_before": next_before}, "\n".join(lines))
    return 0
