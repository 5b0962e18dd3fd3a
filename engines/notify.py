"""Webhook notifications: a JSON POST, or Slack-compatible ``{"text": ...}``.

A notification must never break or stall a deploy: each POST has a short
timeout, failures are returned (for the audit trail), never raised.

A webhook URL carries its token (in the userinfo, path or query): a
``Delivery`` only ever holds the redacted form (``https://hooks.slack.com/…``)
and an error text scrubbed of every piece of the URL, so whatever records or
prints a delivery cannot leak the token.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from engines.redact import redact_url, redact_urls_in


@dataclass(frozen=True)
class Delivery:
    """The outcome of one POST, safe to store and print."""

    url: str  # redacted: scheme://host[:port]/… — never the token
    ok: bool
    status: int | None
    error: str | None  # redacted like ``url``


def _failed(url: str, status: int | None, error: str) -> Delivery:
    return Delivery(redact_url(url), False, status, redact_urls_in(error, known=(url,)))


def _post(url: str, payload: dict[str, Any], timeout_s: float) -> Delivery:
    body = json.dumps(payload, default=str).encode()
    try:
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "shipdeck"},
        )
        with urllib.request.urlopen(
            request, timeout=timeout_s
        ) as response:  # http(s) only, checked in send_webhooks
            ok = 200 <= response.status < 300
            return Delivery(
                redact_url(url), ok, response.status, None if ok else f"HTTP {response.status}"
            )
    except urllib.error.HTTPError as error:
        return _failed(url, error.code, f"HTTP {error.code}")
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        return _failed(url, None, str(getattr(error, "reason", error)))
    except (http.client.HTTPException, ValueError) as error:
        # InvalidURL (a "port" that is part of a password), BadStatusLine from a
        # server that is not HTTP, "unknown url type": still only a failed delivery.
        return _failed(url, None, f"{type(error).__name__}: {error}")


async def send_webhooks(
    json_urls: tuple[str, ...],
    slack_urls: tuple[str, ...],
    payload: dict[str, Any],
    text: str,
    timeout_s: float = 5.0,
) -> list[Delivery]:
    """POST ``payload`` to JSON webhooks and ``{"text": text}`` to Slack ones, concurrently.

    A URL that is not http(s) fails on its own; the others are still sent.
    """
    deliveries: list[Delivery] = []
    jobs = []
    for urls, body in ((json_urls, payload), (slack_urls, {"text": text})):
        for url in urls:
            if url.startswith(("http://", "https://")):
                jobs.append(asyncio.to_thread(_post, url, body, timeout_s))
            else:
                deliveries.append(_failed(url, None, "only http(s) webhooks are allowed"))
    if jobs:
        deliveries.extend(await asyncio.gather(*jobs))
    return deliveries
