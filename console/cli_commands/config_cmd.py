"""``shipdeck config check``: print the resolved model, or every error with file:line."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from console.cli_commands.context import CliContext
from console.core.config import Config


def register(subparsers: argparse._SubParsersAction) -> None:
    config = subparsers.add_parser("config", help="inspect configuration")
    sub = config.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    check = sub.add_parser("check", help="validate the config and print the resolved model")
    check.set_defaults(handler=handle_check)


def model_to_dict(value: Any) -> Any:
    """JSON-ready form of the config model (paths as strings, tuples as lists)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: model_to_dict(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): model_to_dict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [model_to_dict(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _summary(config: Config) -> str:
    lines = [f"{config.path}: ok"]
    lines.append(f"  hosts: {', '.join(sorted(config.hosts)) or 'none'}")
    lines.append(
        f"  load balancers: {', '.join(f'{n} ({lb.kind})' for n, lb in sorted(config.load_balancers.items())) or 'none'}"
    )
    metrics = config.metrics.prometheus_url or "direct scrape of instances"
    lines.append(f"  metrics: {metrics}")
    for name, service in sorted(config.services.items()):
        envs = ", ".join(
            f"{e.name} on {'+'.join(e.hosts)} via {e.load_balancer} {e.listen_address}:{e.listen_port}"
            for e in service.environments.values()
        )
        lines.append(f"  service {name}: {service.image} ({service.strategy}) — {envs}")
    lines.append(
        f"  analysis templates: {', '.join(sorted(config.analysis_templates)) or 'default'}"
    )
    lines.append(f"  flags: {config.flags_path}")
    lines.append(f"  state: {config.state_path}")
    return "\n".join(lines)


async def handle_check(args: argparse.Namespace, ctx: CliContext) -> int:
    config = ctx.config()
    ctx.out.document(
        {"ok": True, "path": str(config.path), "config": model_to_dict(config)}, _summary(config)
    )
    return 0
