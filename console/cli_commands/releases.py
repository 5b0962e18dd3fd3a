"""``shipdeck releases SERVICE [--env E]``: retained releases, when live, outcome, where present."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from console.cli_commands.context import CliContext
from console.core.clock import iso
from console.core.text import printable

if TYPE_CHECKING:
    # Imported lazily at run time (with the fleet): most commands never touch a host.
    from engines.docker_host import DockerHost


def register(subparsers: argparse._SubParsersAction) -> None:
    releases = subparsers.add_parser("releases", help="retained releases of a service")
    releases.add_argument("service")
    releases.add_argument("--env", default="production")
    releases.add_argument(
        "--no-hosts", action="store_true", help="skip asking hosts which images they hold"
    )
    releases.set_defaults(handler=handle_releases)


async def handle_releases(args: argparse.Namespace, ctx: CliContext) -> int:
    config = ctx.config()
    service = config.service(args.service)
    env = service.environments.get(args.env)
    store = ctx.store()
    rows = store.releases(service.name, args.env, limit=max(service.releases_to_keep * 4, 20))
    traffic = store.traffic(service.name, args.env)
    presence: dict[str, list[str]] = {}
    if env is not None and not args.no_hosts:
        from console.core.fleet import Fleet

        fleet = Fleet(config)
        try:

            async def images(host: DockerHost) -> list[str]:
                return await host.image_digests(service.image)

            result = await fleet.each(env.hosts, images, timeout_s=30)
            for outcome in result.outcomes:
                for digest in outcome.value or []:
                    presence.setdefault(digest, []).append(outcome.label)
        finally:
            await fleet.close()
    docs = []
    for release in rows:
        outcomes = [
            d.outcome
            for d in store.history(service.name, limit=200)
            if d.to_release == release.id and d.environment == args.env
        ]
        color = None
        if traffic:
            color = next(
                (c for c in ("blue", "green") if traffic.release_of(c) == release.id), None
            )
        docs.append(
            {
                "name": release.name,
                "image": release.image_ref,
                "created_at": iso(release.created_at),
                "first_deployed_at": iso(release.first_deployed_at),
                "last_live_at": iso(release.last_live_at),
                "last_healthy_at": iso(release.last_healthy_at),
                "outcome": outcomes[0] if outcomes else None,
                "live": bool(traffic and color == traffic.live_color),
                "warm_color": color if traffic and color != traffic.live_color else None,
                "present_on": sorted(presence.get(release.digest, [])),
            }
        )
    # Release names come from the store (tags someone chose): one line each.
    lines = [
        f"{printable(d['name']):<16} {'LIVE' if d['live'] else ('warm ' + d['warm_color'] if d['warm_color'] else ''):<11} "
        f"last live {d['last_live_at'] or 'never':<27} {d['outcome'] or '-':<12} on {', '.join(d['present_on']) or '-'}"
        for d in docs
    ]
    ctx.out.document(
        {"service": service.name, "environment": args.env, "releases": docs},
        "\n".join(lines) or "no releases",
    )
    return 0
