"""Webhook notifications: a JSON POST, or Slack-compatible ``{"text": ...}``.

A notification must never break or stall a deploy: each POST has a short
timeout, failures are returned (for the audit trail), never raised.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Delivery:
    url: str
    ok: bool
    status: int | None
    error: str | None


def _post(url: str, payload: dict[str, Any], timeout_s: float) -> Delivery:
    body = json.dumps(payload, default=str).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "shipdeck"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - http(s) only, validated in config
            return Delivery(url, 200 <= response.status < 300, response.status, None)
    except urllib.error.HTTPError as error:
        return Delivery(url, False, error.code, f"HTTP {error.code}")
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        reason = getattr(error, "reason", error)
        return Delivery(url, False, None, str(reason))


async def send_webhooks(
    json_urls: tuple[str, ...],
    slack_urls: tuple[str, ...],
    payload: dict[str, Any],
    text: str,
    timeout_s: float = 5.0,
) -> list[Delivery]:
    """POST ``payload`` to JSON webhooks and ``{"text": text}`` to Slack ones, concurrently."""
    for url in (*json_urls, *slack_urls):
        if not url.startswith(("http://", "https://")):
            return [Delivery(url, False, None, "only http(s) webhooks are allowed")]
    jobs = [asyncio.to_thread(_post, url, payload, timeout_s) for url in json_urls]
    jobs += [asyncio.to_thread(_post, url, {"text": text}, timeout_s) for url in slack_urls]
    if not jobs:
        return []
    return list(await asyncio.gather(*jobs))
