"""Small validators shared by the config loader and command-line input.

Each returns an error string (without location) or None, so callers can
collect every error instead of stopping at the first.

Two rules hold for everything here. Patterns are matched whole
(``fullmatch`` on ``\\A…\\Z``): ``re.match`` with ``$`` lets a trailing newline
through, and a newline in a name or path is exactly what must never reach an
LB file, a container or a terminal. And every number has a finite, documented
range: NaN compares false with every bound, so a plain ``value <= 0`` check
lets ``nan`` (and ``inf``) switch a safety check off.
"""

from __future__ import annotations

import ipaddress
import math
import re
import urllib.parse

from engines.errors import InvalidTargetInput
from engines.lb.model import HEALTH_PATH_PATTERN
from engines.lb.model import check_address as lb_check_address

NAME_RE = re.compile(r"\A[a-z0-9][a-z0-9-]{0,62}\Z")
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# The engines' host name rule (engines/ssh.py, engines/lb/model.py): no label ends in "-".
_HOSTNAME_RE = re.compile(rf"\A(?=.{{1,253}}\Z){_HOST_LABEL}(?:\.{_HOST_LABEL})*\Z")
# Docker reference grammar (distribution/reference), simplified but strict.
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?)"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
REPOSITORY_RE = re.compile(rf"\A{_REPOSITORY}\Z")
IMAGE_REF_RE = re.compile(
    rf"\A(?P<repo>{_REPOSITORY})(?::(?P<tag>[\w][\w.-]{{0,127}}))?(?:@(?P<digest>sha256:[a-f0-9]{{64}}))?\Z",
    re.ASCII,
)
ENV_NAME_RE = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
# Docker label keys (engines/docker_host.py); the schema label is a prefix of two of them.
LABEL_PREFIX_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._/-]{0,100}\Z")

# Ranges. Durations and windows: a canary step, a pause or an analysis longer
# than a week is a typo, and an infinite one never ends. Timeouts: an hour is
# already far past anything a health check or a connection should take.
MAX_WINDOW_S = 7 * 24 * 3600.0
MAX_VERIFY_S = 24 * 3600.0
MAX_TIMEOUT_S = 3600.0
MAX_CONNECT_TIMEOUT_S = 300.0
MAX_LOCK_LEASE_S = 3600.0
MIN_LOCK_LEASE_S = 1.0
MAX_DRILL_AGE_DAYS = 3650.0
MAX_RELEASES_TO_KEEP = 1000
MAX_PATH_CHARS = 4096
MAX_URL_CHARS = 2048
MAX_SMOKE_PATH_CHARS = 2048
_DURATION_RE = re.compile(r"\A(\d{1,15}(?:\.\d{1,9})?)(ms|s|m|h)?\Z", re.ASCII)
_DURATION_UNITS_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def check_name(value: object) -> str | None:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        return f"invalid name {_short(value)}: use [a-z0-9][a-z0-9-]{{0,62}}"
    return None


def check_address(value: object) -> str | None:
    if not isinstance(value, str):
        return f"invalid address {_short(value)}: expected a string"
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    if _HOSTNAME_RE.fullmatch(value):
        return None
    return f"invalid address {_short(value)}: expected an IP address or host name"


def check_publish_address(value: object) -> str | None:
    """Docker binds container ports to an IP address (never a name), and the LB
    writers paste it into upstreams, which take IPv4 in dotted form only."""
    try:
        parsed = ipaddress.ip_address(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.version != 4 or str(parsed) != value:
        return f"invalid publish address {_short(value)}: expected an IPv4 address like 10.0.0.11"
    return None


def check_port(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        return f"invalid port {_short(value)}: expected an integer 1-65535"
    return None


def check_repository(value: object) -> str | None:
    if not isinstance(value, str) or not REPOSITORY_RE.fullmatch(value):
        return f"invalid image repository {_short(value)}: expected e.g. registry:5000/team/app"
    return None


def check_health_path(value: object) -> str | None:
    """The LB writers paste the health path into ``option httpchk GET …``; they
    accept exactly ``engines.lb.model.HEALTH_PATH_PATTERN``, so the config does too."""
    if not isinstance(value, str) or not HEALTH_PATH_PATTERN.fullmatch(value):
        return (
            f"invalid health path {_short(value)}: expected a plain path of letters, digits "
            "and . _ ~ / - (no query, at most 201 characters)"
        )
    return None


def check_request_path(value: object) -> str | None:
    """A path the HTTP client sends as is on the request line: no space, no
    control character (CR/LF would inject headers), ASCII only."""
    if (
        not isinstance(value, str)
        or not value.startswith("/")
        or len(value) > MAX_SMOKE_PATH_CHARS
        or not all("!" <= c <= "~" for c in value)
    ):
        return (
            f"invalid request path {_short(value)}: expected /… of printable ASCII without spaces, "
            f"at most {MAX_SMOKE_PATH_CHARS} characters"
        )
    return None


def check_http_status(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        return f"invalid HTTP status {_short(value)}: expected an integer 100-599"
    return None


def check_file_path(value: object) -> str | None:
    """A file or socket path: non-empty, single-line, without control characters."""
    if not isinstance(value, str) or not value.strip():
        return f"invalid path {_short(value)}: expected a non-empty path"
    if len(value) > MAX_PATH_CHARS or any(_is_control(c) for c in value):
        return f"invalid path {_short(value)}: control characters or more than {MAX_PATH_CHARS} characters"
    return None


def check_socket_path(value: object) -> str | None:
    """A Docker socket path reaches a remote process over SSH: absolute, single-line."""
    error = check_file_path(value)
    if error:
        return error
    if not isinstance(value, str) or not value.startswith("/") or value != value.strip():
        return f"invalid socket path {_short(value)}: expected an absolute path like /var/run/docker.sock"
    return None


def check_http_url(value: object) -> str | None:
    """An http(s) URL of printable ASCII with a host (and a valid port, if any)."""
    cause = f"invalid URL {_short(value)}: expected http(s)://host[:port][/path] without spaces"
    if (
        not isinstance(value, str)
        or len(value) > MAX_URL_CHARS
        or not all("!" <= c <= "~" for c in value)
    ):
        return cause
    try:
        parts = urllib.parse.urlsplit(value)
        port = parts.port
    except ValueError:
        return cause
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return cause
    if port is not None and check_port(port):
        return cause
    return None


def check_env_name(value: object) -> str | None:
    if not isinstance(value, str) or not ENV_NAME_RE.fullmatch(value):
        return f"invalid environment variable name {_short(value)}: expected [A-Za-z_][A-Za-z0-9_]*"
    return None


def check_label_prefix(value: object) -> str | None:
    if not isinstance(value, str) or not LABEL_PREFIX_RE.fullmatch(value):
        return f"invalid label prefix {_short(value)}: expected [A-Za-z0-9][A-Za-z0-9._/-]{{0,100}}"
    return None


def parse_listen(value: object) -> tuple[str, int] | str:
    """``"127.0.0.1:8080"`` → (address, port), or an error string.

    The address is checked by the LB model's own rule (IPv4 in dotted form or a
    host name): whatever the nginx and HAProxy writers would refuse at deploy
    time is refused here. They cannot render IPv6 listeners (``[::1]:80``).
    """
    if not isinstance(value, str) or ":" not in value:
        return f"invalid listen address {_short(value)}: expected ADDRESS:PORT"
    address, _, port_text = value.rpartition(":")
    if address.startswith("[") or ":" in address:
        return (
            f"invalid listen address {_short(value)}: IPv6 listeners are not supported "
            "by the load balancer writers; use an IPv4 address or a host name"
        )
    try:
        lb_check_address("listen", address)
    except InvalidTargetInput:
        return (
            f"invalid listen address {_short(value)}: expected an IPv4 address in dotted form "
            "or a host name before the port"
        )
    # int() of a 5000-digit string raises: bound the length first.
    if not (port_text.isascii() and port_text.isdigit() and len(port_text) <= 5):
        return f"invalid listen address {_short(value)}: port must be a number 1-65535"
    port = int(port_text)
    port_error = check_port(port)
    return port_error if port_error else (address, port)


def check_number(
    value: object, low: float, high: float, *, low_inclusive: bool = False
) -> float | str:
    """A finite int or float in ``(low, high]`` (``[low, high]`` when
    ``low_inclusive``) as a float, or an error string naming the range."""
    bracket = "[" if low_inclusive else "("
    wanted = f"a number in {bracket}{low:g}, {high:g}]"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected {wanted}, got {_short(value)}"
    # Compare before converting: float() of a 400-digit int overflows.
    if isinstance(value, float) and not math.isfinite(value):
        return f"expected {wanted}, got {_short(value)}"
    above_low = value >= low if low_inclusive else value > low
    if not above_low or value > high:
        return f"expected {wanted}, got {_short(value)}"
    return float(value)


def check_integer(value: object, low: int, high: int) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"expected an integer {low}-{high}, got {_short(value)}"
    if not low <= value <= high:
        return f"expected an integer {low}-{high}, got {_short(value)}"
    return value


def parse_duration_s(value: object, maximum_s: float = MAX_WINDOW_S) -> float | str:
    """``"10m"``, ``"30s"``, ``90`` → seconds in ``[0, maximum_s]``, or an error string.

    NaN, infinities and numbers too large to be meant are refused, never
    converted: ``float("9" * 400)`` is ``inf``, and ``float(10**400)`` raises.
    """
    if isinstance(value, bool):
        return f"invalid duration {_short(value)}"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return f"invalid duration {_short(value)}: must be a finite number"
        if value < 0:
            return f"invalid duration {_short(value)}: negative"
        if value > maximum_s:
            return f"invalid duration {_short(value)}: at most {maximum_s:g}s"
        return float(value)
    if isinstance(value, str):
        match = _DURATION_RE.fullmatch(value.strip())
        if match:
            seconds = float(match.group(1)) * _DURATION_UNITS_S[match.group(2) or "s"]
            if seconds > maximum_s:
                return f"invalid duration {_short(value)}: at most {maximum_s:g}s"
            return seconds
    return f'invalid duration {_short(value)}: expected e.g. "30s", "10m", "1h"'


def _is_control(char: str) -> bool:
    return ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0


def _short(value: object) -> str:
    """A value as an error shows it: a 5000-digit number is not worth printing whole."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        # repr() itself raises past 4300 digits.
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}…({len(text)} characters)"
