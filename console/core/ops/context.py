"""The one executor context every production-changing operation runs in.

It owns the things the faces must never do themselves: the lock, the
deployment record and its events, notifications. The CLI and the TUI only
build an ``OpContext`` and listen to its events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from console.core.clock import Clock, iso
from console.core.config import Config
from console.core.fleet import Fleet
from console.core.store import StateStore
from engines.notify import send_webhooks
from engines.redact import redact_urls_in

# listener(event_name, message, fields) — the CLI prints JSON Lines, the TUI updates widgets.
Listener = Callable[[str, str, dict[str, Any]], None]


@dataclass
class OpContext:
    config: Config
    store: StateStore
    clock: Clock
    operator: str
    fleet: Fleet
    listeners: list[Listener] = field(default_factory=list)
    lb_factory: Any = None  # console.core.ops.lb.LbRegistry, created lazily
    notify_timeout_s: float = 5.0

    @property
    def lbs(self) -> Any:
        if self.lb_factory is None:
            from console.core.ops.lb import LbRegistry

            self.lb_factory = LbRegistry(self.config, self.fleet)
        return self.lb_factory

    def emit(
        self, event: str, message: str, deployment_id: int | None = None, **fields: Any
    ) -> None:
        """Record a step (when part of a deployment) and tell every listener.

        Every URL in ``message`` is redacted first (an engine's error may quote a
        webhook's token or a Prometheus password): the store and the listeners
        only ever see ``scheme://host[:port]/…``.
        """
        message = redact_urls_in(message, known=self._secret_urls())
        now = self.clock.now()
        if deployment_id is not None:
            self.store.add_event(deployment_id, event, message, now, fields)
        payload = (
            {"deployment_id": deployment_id, **fields}
            if deployment_id is not None
            else dict(fields)
        )
        payload.setdefault("ts", iso(now))
        for listener in self.listeners:
            listener(event, message, payload)

    def _secret_urls(self) -> tuple[str, ...]:
        """The configured URLs that may carry a credential (webhooks, Prometheus)."""
        urls = [u for svc in self.config.services.values() for u in svc.webhooks]
        urls += [u for svc in self.config.services.values() for u in svc.slack_webhooks]
        if self.config.metrics.prometheus_url:
            urls.append(self.config.metrics.prometheus_url)
        return tuple(urls)

    async def notify(self, service: str, kind: str, text: str, **fields: Any) -> None:
        """Webhook JSON POST and Slack-compatible text; failures are recorded, not raised."""
        svc = self.config.services.get(service)
        if svc is None or not (svc.webhooks or svc.slack_webhooks):
            return
        payload = {
            "source": "shipdeck",
            "kind": kind,
            "service": service,
            "text": text,
            "ts": iso(self.clock.now()),
            **fields,
        }
        deliveries = await send_webhooks(
            svc.webhooks,
            svc.slack_webhooks,
            payload,
            f"shipdeck: {text}",
            self.notify_timeout_s,
        )
        for delivery in deliveries:
            if not delivery.ok:
                # Deliveries carry redacted URLs and errors; emit scrubs again.
                self.emit(
                    "notification_failed",
                    f"webhook {delivery.url}: {delivery.error}",
                    fields.get("deployment_id"),
                )
