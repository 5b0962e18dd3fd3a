"""``shipdeck config check``: print the resolved model, or every error with file:line.

What it prints is pasted into tickets and chat: webhook and Slack URLs (their
token is in the path or query), the Prometheus URL (it may carry
``user:password@``) and container env values that look like secrets are shown
redacted, in the text and in ``--json``. The loaded config keeps the real
values; only what is printed changes.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path
from typing import Any

from console.cli_commands.context import CliContext
from console.core.config import Config
from console.core.text import printable
from engines.redact import ELIDED, redact_url, redact_urls_in

# Container env names whose value is a credential whatever it looks like.
_SECRET_ENV_NAME = re.compile(r"PASS|SECRET|TOKEN|KEY|CREDENTIAL|AUTH|PRIVATE|DSN", re.IGNORECASE)


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


def redacted_model(config: Config) -> dict[str, Any]:
    """``model_to_dict(config)`` with every credential-bearing value shown redacted."""
    model: dict[str, Any] = model_to_dict(config)
    metrics = model["metrics"]
    if metrics.get("prometheus_url"):
        metrics["prometheus_url"] = redact_url(metrics["prometheus_url"])
    for service in model["services"].values():
        service["webhooks"] = [redact_url(url) for url in service["webhooks"]]
        service["slack_webhooks"] = [redact_url(url) for url in service["slack_webhooks"]]
        service["env"] = {
            name: ELIDED if _SECRET_ENV_NAME.search(name) else redact_urls_in(value)
            for name, value in service["env"].items()
        }
    return model


def _summary(config: Config) -> str:
    lines = [f"{printable(str(config.path))}: ok"]
    lines.append(f"  hosts: {', '.join(sorted(config.hosts)) or 'none'}")
    lines.append(
        f"  load balancers: {', '.join(f'{n} ({lb.kind})' for n, lb in sorted(config.load_balancers.items())) or 'none'}"
    )
    prometheus = config.metrics.prometheus_url
    metrics = printable(redact_url(prometheus)) if prometheus else "direct scrape of instances"
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
    lines.append(f"  flags: {printable(str(config.flags_path))}")
    state = (
        f"{redact_url(config.state_url)} (shared, PostgreSQL)"
        if config.state_url
        else str(config.state_path)
    )
    lines.append(f"  state: {printable(state)}")
    return "\n".join(lines)


async def handle_check(args: argparse.Namespace, ctx: CliContext) -> int:
    config = ctx.config()
    ctx.out.document(
        {"ok": True, "path": str(config.path), "config": redacted_model(config)}, _summary(config)
    )
    return 0
