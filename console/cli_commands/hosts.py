"""``shipdeck hosts``: each host, reachable or not (with reason), Docker version, containers."""

from __future__ import annotations

import argparse

from console.cli_commands.context import CliContext
from console.core.errors import ExitCode
from console.core.fleet import probe_hosts_factory
from console.core.text import printable


def register(subparsers: argparse._SubParsersAction) -> None:
    hosts = subparsers.add_parser(
        "hosts", help="reachability, Docker version and shipdeck containers per host"
    )
    hosts.add_argument("names", nargs="*", metavar="HOST", help="only these hosts")
    hosts.set_defaults(handler=handle_hosts)


async def handle_hosts(args: argparse.Namespace, ctx: CliContext) -> int:
    config = ctx.config()
    names = args.names or sorted(config.hosts)
    for name in names:
        if name not in config.hosts:
            from console.core.errors import InvalidInput

            raise InvalidInput(
                f'unknown host "{name}" (configured: {", ".join(sorted(config.hosts))})'
            )
    view = await probe_hosts_factory(config)(names)
    lines = []
    # Errors and container labels come from the hosts, not from shipdeck: one line each.
    for name in names:
        host = view[name]
        if not host.reachable:
            label = "INVALID" if host.error_code == "invalid" else "UNREACHABLE"
            lines.append(f"{name}: {label} — {printable(str(host.error))}")
            continue
        lines.append(
            f"{name}: docker {printable(str(host.docker_version))}, "
            f"{len(host.containers)} shipdeck containers"
        )
        for c in host.containers:
            slot = printable("/".join(p for p in (c.color, c.track) if p))
            service, release = printable(c.service), printable(c.release)
            state, health = printable(c.state), printable(c.health)
            lines.append(f"  {service:<16} {release:<14} {slot:<14} {state:<9} {health}")
    ctx.out.document({"hosts": [{"name": n, **view[n].to_dict()} for n in names]}, "\n".join(lines))
    unreachable = [n for n in names if not view[n].reachable]
    if any(view[n].error_code == "invalid" for n in unreachable):
        return int(ExitCode.INVALID)  # a bad known_hosts or key file: fixing input, not network
    return int(ExitCode.UNREACHABLE) if unreachable else 0
