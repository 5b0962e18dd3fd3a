"""What a load balancer should do for one service, and what it reports back.

Everything that ends up in an nginx or HAProxy file passes through here first:
names, addresses, releases and ports are checked against strict patterns, so
the renderers can paste the values without quoting and nothing a config file
or an operator typed can add a directive, a brace, a newline or a quote.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from engines.errors import InvalidTargetInput

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
RELEASE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME_PATTERN = re.compile(rf"(?=.{{1,253}}$){_HOST_LABEL}(?:\.{_HOST_LABEL})*")
COLORS = ("blue", "green")
TRACKS = ("", "baseline", "canary")
KINDS = ("nginx", "haproxy")
TOTAL_WEIGHT_PCT = 100


def check_name(owner: str, what: str, value: object) -> str:
    """A service or backend name: lowercase, digits and inner hyphens only."""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise InvalidTargetInput(owner, f"{what} {value!r} must match [a-z0-9][a-z0-9-]{{0,62}}")
    return value


def check_release(owner: str, value: object) -> str:
    if not isinstance(value, str) or not RELEASE_PATTERN.fullmatch(value):
        raise InvalidTargetInput(
            owner, f"release {value!r} must match [A-Za-z0-9][A-Za-z0-9._+-]{{0,127}}"
        )
    return value


def check_address(owner: str, value: object) -> str:
    """An IPv4 address (canonical form) or a DNS host name; nothing else reaches a file."""
    if not isinstance(value, str):
        raise InvalidTargetInput(owner, f"address {value!r} is not a string")
    try:
        parsed = ipaddress.ip_address(value)
    except ValueError:
        # A name made of digits and dots only (e.g. "1.2.3") would be read as an IP by the LB.
        if HOSTNAME_PATTERN.fullmatch(value) and not re.fullmatch(r"[0-9.]+", value):
            return value
        raise InvalidTargetInput(
            owner, f"address {value!r} is neither an IPv4 address nor a host name"
        ) from None
    if parsed.version != 4 or str(parsed) != value:
        raise InvalidTargetInput(owner, f"address {value!r} must be an IPv4 address in dotted form")
    return value


def check_port(owner: str, what: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise InvalidTargetInput(owner, f"{what} {value!r} is not an integer in 1..65535")
    return value


@dataclass(frozen=True)
class Backend:
    """One instance the LB may send traffic to (one color of one release)."""

    name: str
    address: str
    port: int
    release: str
    color: str
    weight_pct: int
    track: str = ""

    @property
    def endpoint(self) -> str:
        return f"{self.address}:{self.port}"

    def validate(self, service: str) -> None:
        """Raise ``InvalidTargetInput(service, …)`` naming the first bad field."""
        check_name(service, "backend name", self.name)
        owner = f"{service}/{self.name}"
        check_address(owner, self.address)
        check_port(owner, "port", self.port)
        check_release(owner, self.release)
        if self.color not in COLORS:
            raise InvalidTargetInput(owner, f"color {self.color!r} must be one of {COLORS}")
        if self.track not in TRACKS:
            raise InvalidTargetInput(owner, f"track {self.track!r} must be one of {TRACKS}")
        weight = self.weight_pct
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise InvalidTargetInput(owner, f"weight_pct {weight!r} is not an integer in 0..100")


@dataclass(frozen=True)
class TrafficState:
    """The desired traffic split of one service. Blue-green is 100/0, a canary step e.g. 95/5."""

    service: str
    listen_address: str
    listen_port: int
    preview_port: int
    backends: tuple[Backend, ...]
    preview_color: str | None = None

    def validate(self) -> None:
        """Refuse, before anything is rendered or written, any state that is unsafe to
        paste into an LB file or that would leave the service with no live backend."""
        service = check_name(str(self.service), "service name", self.service)
        check_address(service, self.listen_address)
        check_port(service, "listen_port", self.listen_port)
        check_port(service, "preview_port", self.preview_port)
        if self.listen_port == self.preview_port:
            raise InvalidTargetInput(service, "preview_port must differ from listen_port")
        if self.preview_color is not None and self.preview_color not in COLORS:
            raise InvalidTargetInput(
                service, f"preview_color {self.preview_color!r} must be None or one of {COLORS}"
            )
        if not isinstance(self.backends, tuple) or not self.backends:
            raise InvalidTargetInput(service, "backends must be a non-empty tuple")
        for backend in self.backends:
            if not isinstance(backend, Backend):
                raise InvalidTargetInput(service, f"{backend!r} is not a Backend")
            backend.validate(service)
        for what, values in (
            ("backend name", [b.name for b in self.backends]),
            ("backend endpoint", [b.endpoint for b in self.backends]),
        ):
            duplicates = sorted(v for v, n in Counter(values).items() if n > 1)
            if duplicates:
                raise InvalidTargetInput(service, f"duplicate {what}: {', '.join(duplicates)}")
        total = sum(b.weight_pct for b in self.backends)
        if total != TOTAL_WEIGHT_PCT:
            raise InvalidTargetInput(service, f"weights sum to {total}, not {TOTAL_WEIGHT_PCT}")

    @property
    def live_backends(self) -> tuple[Backend, ...]:
        return tuple(b for b in self.backends if b.weight_pct > 0)

    @property
    def weight_by_release(self) -> dict[str, int]:
        shares: Counter[str] = Counter()
        for backend in self.backends:
            shares[backend.release] += backend.weight_pct
        return dict(shares)

    @property
    def sole_release(self) -> str | None:
        """The release that takes all traffic, or None during a split."""
        full = [r for r, pct in self.weight_by_release.items() if pct == TOTAL_WEIGHT_PCT]
        return full[0] if full else None

    @property
    def preview_backends(self) -> tuple[Backend, ...]:
        if self.preview_color is None:
            return ()
        return tuple(b for b in self.backends if b.color == self.preview_color)

    def with_weights(self, weights: dict[str, int]) -> TrafficState:
        """The same state with some backends' weights replaced (by backend name)."""
        return replace(
            self,
            backends=tuple(replace(b, weight_pct=weights.get(b.name, b.weight_pct)) for b in self.backends),
        )


@dataclass(frozen=True)
class LbSettings:
    """How to reach, check and reload one load balancer instance."""

    name: str
    kind: str
    config_dir: Path
    main_config: Path
    validate_argv: tuple[str, ...]
    reload_argv: tuple[str, ...]
    stats_socket: Path | None = None
    master_socket: Path | None = None
    use_runtime_api: bool = True
    verify_address: str = "127.0.0.1"
    timeout_s: float = 15.0
    health_path: str = "/"

    def validate(self) -> None:
        if self.kind not in KINDS:
            raise InvalidTargetInput(self.name, f"LB kind {self.kind!r} must be one of {KINDS}")
        check_address(self.name, self.verify_address)
        if not self.timeout_s > 0:
            raise InvalidTargetInput(self.name, "timeout_s must be positive")
        if not re.fullmatch(r"/[A-Za-z0-9._~/-]{0,200}", self.health_path):
            raise InvalidTargetInput(self.name, f"health_path {self.health_path!r} is not a plain path")
        for path in (self.config_dir, self.main_config, self.stats_socket, self.master_socket):
            if path is not None and (not Path(path).is_absolute() or "\n" in str(path)):
                raise InvalidTargetInput(self.name, f"path {str(path)!r} must be absolute")
        if not self.validate_argv:
            raise InvalidTargetInput(self.name, "validate_argv must not be empty")


@dataclass(frozen=True)
class ApplyResult:
    """How a state was made live, how long it took, and which release answered after."""

    method: str
    duration_s: float
    verified_release: str | None
    changed: bool


@dataclass(frozen=True)
class ObservedBackend:
    """One backend as the LB has it (``up`` is None when the LB cannot say, e.g. nginx OSS)."""

    name: str
    address: str
    port: int
    release: str
    color: str
    weight_pct: int
    up: bool | None
