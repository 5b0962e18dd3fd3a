"""Webhook URLs carry tokens: what a delivery holds, and the redaction it uses, never show them."""

from __future__ import annotations

import socket

from engines.notify import send_webhooks
from engines.redact import redact_url, redact_urls_in


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_redact_url_keeps_scheme_host_and_port_only():
    url = "https://user:pw@hooks.slack.com:8443/services/T0/B0/XYZ?token=abc#frag"
    assert redact_url(url) == "https://hooks.slack.com:8443/…"


def test_redact_url_leaves_a_bare_host_url_unchanged():
    assert redact_url("http://127.0.0.1:9090") == "http://127.0.0.1:9090"


def test_redact_url_hides_a_password_that_contains_a_slash():
    assert "pa" not in redact_url("http://user:pa/ss@host/x")


def test_redact_urls_in_text_keeps_the_sentence_around_the_url():
    text = "prometheus at http://u:secret@prom:9090/api?x=1 unreachable (see http://prom:9090)."
    assert redact_urls_in(text) == (
        "prometheus at http://prom:9090/… unreachable (see http://prom:9090)."
    )


def test_redact_urls_in_scrubs_pieces_of_a_known_url_quoted_without_its_scheme():
    url = "http://bot:hunter22@127.0.0.1:1/hooks/SECRETPATH?token=SECRETQUERY"
    text = "InvalidURL: nonnumeric port: 'hunter22' for /hooks/SECRETPATH?token=SECRETQUERY"
    redacted = redact_urls_in(text, known=(url,))
    assert not any(s in redacted for s in ("hunter22", "SECRETPATH", "SECRETQUERY"))


async def test_a_failed_delivery_holds_only_the_redacted_url_and_error():
    port = _closed_port()
    url = f"http://user:TOKENA@127.0.0.1:{port}/hooks/TOKENB?token=TOKENC"
    [delivery] = await send_webhooks((url,), (), {"text": "x"}, "x", timeout_s=2)
    shown = f"{delivery.url} {delivery.error}"
    assert not delivery.ok and not any(t in shown for t in ("TOKENA", "TOKENB", "TOKENC"))


async def test_a_url_that_is_not_http_fails_alone_and_the_others_are_still_sent():
    port = _closed_port()
    good = f"http://127.0.0.1:{port}/hook"
    deliveries = await send_webhooks(("ftp://x/SECRET",), (good,), {}, "x", timeout_s=2)
    assert len(deliveries) == 2 and "SECRET" not in repr(deliveries)


async def test_an_invalid_port_in_a_webhook_url_is_a_failed_delivery_not_an_exception():
    [delivery] = await send_webhooks(("http://u:pa@ss@127.0.0.1:xx/h",), (), {}, "x", timeout_s=2)
    assert not delivery.ok and "pa@ss" not in f"{delivery.url} {delivery.error}"


def test_redact_urls_in_leaves_plain_words_of_a_known_url_alone():
    known = ("https://bot@hooks.slack.com/services/T0ABC/B0CDE/xyzXYZ123",)
    assert redact_urls_in("services restarted by bot", known=known) == "services restarted by bot"
