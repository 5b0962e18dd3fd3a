"""The display form of a URL that may carry a credential: what may be stored, printed, logged.

Webhook and Slack URLs carry their token in the path or the query, a Prometheus
URL may carry ``user:password@``. Whatever shipdeck records in the state store,
prints or logs names such a URL by scheme, host and port only
(``https://hooks.slack.com/…``): enough to tell which one failed, useless to
whoever reads the audit trail or a terminal's scrollback.

The config keeps the real URL (it is needed to send); this module only ever
makes the form that is shown. Never fetch what it returns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

ELIDED = "…"

# scheme://authority[/?#rest] inside free text; a URL ends at whitespace, a quote or <>.
_URL_IN_TEXT = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<authority>[^\s/?#'\"<>`]*)(?P<rest>[/?#][^\s'\"<>`]*)?"
)
# Punctuation that more likely closes the sentence than belongs to the URL.
_TRAILING = ").,;:!?]}"
# Pieces shorter than this are not scrubbed from free text: they would match everywhere.
_MIN_SECRET_LEN = 4


def _host_part(authority: str) -> str:
    """The authority without ``userinfo@``; ``…`` when what is left is no host[:port].

    ``http://user:pa/ss@host`` splits at the ``/``: its "authority" ``user:pa``
    is a piece of the password, recognisable by a port that is not a number.
    """
    host = authority.rpartition("@")[2]
    if host.startswith("["):  # [v6]:port
        close = host.find("]")
        port = host[close + 1 :] if close >= 0 else ":x"
    else:
        port = host[host.find(":") :] if ":" in host else ""
    if port and not (port[0] == ":" and port[1:].isdigit()) and port != ":":
        return ELIDED
    return host


def _redact_match(scheme: str, authority: str, rest: str) -> str:
    tail = ""
    while rest and rest[-1] in _TRAILING:
        tail = rest[-1] + tail
        rest = rest[:-1]
    if not rest and authority and authority[-1] in _TRAILING and "@" not in authority:
        # "see http://host:9090)." — keep the sentence's punctuation as it was
        stripped = authority.rstrip(_TRAILING)
        tail = authority[len(stripped) :] + tail
        authority = stripped
    shown = f"{scheme}://{_host_part(authority)}"
    if rest and rest != "/":
        shown += "/" + ELIDED
    elif rest == "/":
        shown += "/"
    return shown + tail


def redact_url(url: str) -> str:
    """``https://user:pw@hooks.slack.com/services/T/B/X?token=t`` → ``https://hooks.slack.com/…``.

    Userinfo is dropped; a path (other than ``/``), query or fragment becomes
    ``…``. Something that is not ``scheme://…`` keeps only what comes before
    its first ``/`` (and after any ``@``): it may still be a URL missing its scheme.
    """
    text = url.strip()
    match = _URL_IN_TEXT.fullmatch(text)
    if match is not None:
        return _redact_match(match["scheme"], match["authority"], match["rest"] or "")
    if "://" in text:  # a URL with whitespace or quotes in it: keep the scheme only
        return text.partition("://")[0][:20] + "://" + ELIDED
    head, slash, _ = text.partition("/")
    head = head.rpartition("@")[2]
    return head + ("/" + ELIDED if slash else "")


def _token_like(piece: str) -> bool:
    """A path segment or query value that may be a token, not a word such as ``services``."""
    if len(piece) < _MIN_SECRET_LEN:
        return False
    return len(piece) >= 16 or any(c.isdigit() or c.isupper() for c in piece)


def _secret_pieces(url: str) -> set[str]:
    """The parts of ``url`` that may be (or contain) a credential, raw and percent-decoded.

    The password, the whole userinfo, path and query, and each token-like path
    segment or query value; not the host, the user name or plain words, which
    would otherwise be scrubbed from every sentence that happens to contain them.
    """
    whole: set[str] = {url}
    tokens: set[str] = set()
    _, _, after_scheme = url.partition("://")
    authority = re.split(r"[/?#]", after_scheme, maxsplit=1)[0]
    userinfo, at, _ = authority.rpartition("@")
    if at:
        whole.add(userinfo)
        whole.add(userinfo.partition(":")[2])
    rest = after_scheme[len(authority) :]
    if rest not in ("", "/"):
        whole.add(rest)
        tokens.update(re.split(r"[/?#&=;]", rest))
    if _host_part(authority) == ELIDED:
        whole.add(authority)
        tokens.update(authority.split(":"))
    pieces = {p for p in whole if len(p) >= _MIN_SECRET_LEN} | {p for p in tokens if _token_like(p)}
    return pieces | {unquote(p) for p in pieces}


def redact_urls_in(text: str, known: Iterable[str] = ()) -> str:
    """``text`` with every URL in it redacted as ``redact_url`` does.

    ``known`` are URLs the text may quote piecemeal (an ``HTTPError`` or
    ``InvalidURL`` message often names a host, a path or a bad "port" that is
    really part of the password): every piece of those that could be a
    credential is replaced by ``…`` too.
    """
    redacted = _URL_IN_TEXT.sub(
        lambda m: _redact_match(m["scheme"], m["authority"], m["rest"] or ""), text
    )
    for piece in sorted({p for url in known for p in _secret_pieces(url)}, key=len, reverse=True):
        redacted = redacted.replace(piece, ELIDED)
    return redacted
