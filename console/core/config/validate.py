"""Small validators shared by the config loader and command-line input.

Each returns an error string (without location) or None, so callers can
collect every error instead of stopping at the first.
"""

from __future__ import annotations

import ipaddress
import re

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9][A-Za-z0-9-]{0,62})*$"
)
# Docker reference grammar (distribution/reference), simplified but strict.
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
REPOSITORY_RE = re.compile(rf"^{_REPOSITORY}$")
IMAGE_REF_RE = re.compile(
    rf"^(?P<repo>{_REPOSITORY})(?::(?P<tag>[\w][\w.-]{{0,127}}))?(?:@(?P<digest>sha256:[a-f0-9]{{64}}))?$"
)
RELEASE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_name(value: object) -> str | None:
    if not isinstance(value, str) or not NAME_RE.match(value):
        return f"invalid name {value!r}: use [a-z0-9][a-z0-9-]{{0,62}}"
    return None


def check_address(value: object) -> str | None:
    if not isinstance(value, str):
        return f"invalid address {value!r}: expected a string"
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    if _HOSTNAME_RE.match(value):
        return None
    return f"invalid address {value!r}: expected an IP address or host name"


def check_port(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        return f"invalid port {value!r}: expected an integer 1-65535"
    return None


def check_repository(value: object) -> str | None:
    if not isinstance(value, str) or not REPOSITORY_RE.match(value):
        return f"invalid image repository {value!r}: expected e.g. registry:5000/team/app"
    return None


def check_image_ref(value: object) -> str | None:
    if not isinstance(value, str) or not IMAGE_REF_RE.match(value):
        return f"invalid image reference {value!r}: expected REPOSITORY[:TAG][@sha256:DIGEST]"
    return None


def parse_listen(value: object) -> tuple[str, int] | str:
    """``"127.0.0.1:8080"`` → (address, port), or an error string."""
    if not isinstance(value, str) or ":" not in value:
        return f"invalid listen address {value!r}: expected ADDRESS:PORT"
    address, _, port_text = value.rpartition(":")
    address = address.strip("[]")
    error = check_address(address)
    if error:
        return error
    if not (port_text.isascii() and port_text.isdigit()):
        return f"invalid listen address {value!r}: port must be a number"
    port = int(port_text)
    port_error = check_port(port)
    return port_error if port_error else (address, port)


_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")


def parse_duration_s(value: object) -> float | str:
    """``"10m"``, ``"30s"``, ``90`` → seconds, or an error string."""
    if isinstance(value, bool):
        return f"invalid duration {value!r}"
    if isinstance(value, int | float):
        return float(value) if value >= 0 else f"invalid duration {value!r}: negative"
    if isinstance(value, str):
        match = _DURATION_RE.match(value.strip())
        if match:
            number = float(match.group(1))
            unit = match.group(2) or "s"
            return number * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return f'invalid duration {value!r}: expected e.g. "30s", "10m", "1h"'
