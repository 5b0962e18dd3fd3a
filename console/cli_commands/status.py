"""``shipdeck status [SERVICE]``: live release per service and environment."""

from __future__ import annotations

import argparse

from console.cli_commands.context import CliContext
from console.core.status import ServiceStatus, service_statuses
from console.core.text import printable


def register(subparsers: argparse._SubParsersAction) -> None:
    status = subparsers.add_parser("status", help="what is live where, in-progress deploys, locks")
    status.add_argument("service", nargs="?")
    status.add_argument(
        "--no-hosts", action="store_true", help="skip asking each host what it runs"
    )
    status.set_defaults(handler=handle_status)


def render_text(statuses: list[ServiceStatus]) -> str:
    """One block per service/environment; every stored or probed string escaped to one line.

    Lock reasons, operators, release names and host errors come from people and
    hosts, not from shipdeck: ``printable`` keeps their newlines and escapes out of the terminal.
    """
    lines = []
    for s in statuses:
        live = f"{printable(s.live_release)} ({s.live_color})" if s.live_release else "nothing live"
        standby = (
            f", standby {printable(s.standby_release)} ({s.standby_color})"
            if s.standby_release
            else ""
        )
        lines.append(f"{s.service}/{s.environment}: {live}{standby}")
        if s.canary_release:
            lines.append(f"  canary {printable(s.canary_release)} at {s.canary_weight_pct}%")
        if s.in_progress:
            prog = s.in_progress
            flag = (
                " INTERRUPTED (holder stopped) — shipdeck deploy --resume or shipdeck rollback"
                if prog.interrupted
                else ""
            )
            lines.append(
                f"  in progress: #{prog.id} {prog.kind}/{prog.strategy} "
                f"step {printable(str(prog.step))}{flag}"
            )
        if s.lock:
            lines.append(f"  {printable(s.lock.text)}")
        if s.last_deploy:
            d = s.last_deploy
            lines.append(
                f"  last: #{d.id} {d.kind} {d.outcome}"
                + (f" ({printable(d.reason)})" if d.reason else "")
            )
        for host, view in sorted(s.hosts.items()):
            state = (
                ", ".join(printable(r) for r in view.running) or "nothing running"
                if view.reachable
                else f"unreachable: {printable(str(view.error))}"
            )
            lines.append(f"  host {host}: {state}")
        if s.mixed_versions:
            lines.append("  WARNING: mixed versions across hosts")
        if s.drill and s.drill.warning:
            lines.append(f"  drill: {printable(s.drill.warning)}")
    return "\n".join(lines) or "no services configured"


async def handle_status(args: argparse.Namespace, ctx: CliContext) -> int:
    config = ctx.config()
    probe = None
    if not args.no_hosts:
        from console.core.fleet import probe_hosts_factory

        probe = probe_hosts_factory(config)
    statuses = await service_statuses(config, ctx.store(), ctx.clock, args.service, probe)
    ctx.out.document({"services": [s.to_dict() for s in statuses]}, render_text(statuses))
    return 0
