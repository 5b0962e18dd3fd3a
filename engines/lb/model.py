"""What a load balancer should do for one service, and what it reports back.

Everything that ends up in an nginx or HAProxy file passes through here first:
names, addresses, releases and ports are checked against strict patterns, so
the renderers can paste the values without quoting and nothing a config file
or an operator typed can add a directive, a brace, a newline or a quote.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engines.errors import EngineOperationFailed, InvalidTargetInput

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
RELEASE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME_PATTERN = re.compile(rf"(?=.{{1,253}}$){_HOST_LABEL}(?:\.{_HOST_LABEL})*")
COLORS = ("blue", "green")
TRACKS = ("", "baseline", "canary")
KINDS = ("nginx", "haproxy")
TOTAL_WEIGHT_PCT = 100
HEALTH_PATH_PATTERN = re.compile(r"/[A-Za-z0-9._~/-]{0,200}")


class NoHealthyBackend(EngineOperationFailed):
    """A weight set would send traffic to a backend that does not answer its
    health check; refused before anything was written, so the LB keeps
    serving exactly what it served."""


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

    def to_record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": self.address,
            "port": self.port,
            "release": self.release,
            "color": self.color,
            "weight_pct": self.weight_pct,
            "track": self.track,
        }

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

    def backend(self, name: str) -> Backend:
        """The backend called ``name`` (KeyError if there is none)."""
        for candidate in self.backends:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    @property
    def preview_backend_names(self) -> tuple[str, ...]:
        """Backends the preview listener routes to: the idle color, if any."""
        return tuple(b.name for b in self.preview_backends)

    def with_weights(self, weights: dict[str, int]) -> TrafficState:
        """The same state with some backends' weights replaced (by backend name)."""
        return replace(
            self,
            backends=tuple(
                replace(b, weight_pct=weights.get(b.name, b.weight_pct)) for b in self.backends
            ),
        )

    def to_record(self) -> dict[str, Any]:
        """A JSON-able record; written into the installed file so the LB file
        itself says which releases and colors its servers are."""
        return {
            "service": self.service,
            "listen_address": self.listen_address,
            "listen_port": self.listen_port,
            "preview_port": self.preview_port,
            "preview_color": self.preview_color,
            "backends": [b.to_record() for b in self.backends],
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> TrafficState:
        """Rebuild and re-validate a state read back from an installed file."""
        try:
            state = cls(
                service=record["service"],
                listen_address=record["listen_address"],
                listen_port=record["listen_port"],
                preview_port=record["preview_port"],
                preview_color=record["preview_color"],
                backends=tuple(Backend(**b) for b in record["backends"]),
            )
        except (KeyError, TypeError) as error:
            raise InvalidTargetInput("traffic state", f"malformed state record: {error}") from None
        state.validate()
        return state

    def generation(self) -> str:
        """A short digest of this exact state. The LB serves it as the
        ``X-Shipdeck-Config`` header, so a probe can tell which config answered."""
        return _digest(self.to_record())

    def structure(self) -> str:
        """A digest of everything but the weights and the preview choice: two
        states with equal structure differ only in what HAProxy's runtime API
        can change without a reload."""
        record = self.to_record()
        record["preview_color"] = None
        for backend in record["backends"]:
            backend["weight_pct"] = 0
        return _digest(record)


def _digest(record: Mapping[str, Any]) -> str:
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


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
    verify_timeout_s: float = 5.0
    probe_timeout_s: float = 2.0
    preflight_health: bool = True

    def validate(self) -> None:
        if self.kind not in KINDS:
            raise InvalidTargetInput(self.name, f"LB kind {self.kind!r} must be one of {KINDS}")
        check_address(self.name, self.verify_address)
        for what, value in (
            ("timeout_s", self.timeout_s),
            ("verify_timeout_s", self.verify_timeout_s),
            ("probe_timeout_s", self.probe_timeout_s),
        ):
            if not value > 0:
                raise InvalidTargetInput(self.name, f"{what} must be positive")
        if not isinstance(self.health_path, str) or not HEALTH_PATH_PATTERN.fullmatch(
            self.health_path
        ):
            raise InvalidTargetInput(
                self.name, f"health_path {self.health_path!r} is not a plain path"
            )
        for path in (self.config_dir, self.main_config, self.stats_socket, self.master_socket):
            if path is not None and (not Path(path).is_absolute() or "\n" in str(path)):
                raise InvalidTargetInput(self.name, f"path {str(path)!r} must be absolute")
        if not self.validate_argv:
            raise InvalidTargetInput(self.name, "validate_argv must not be empty")


@dataclass(frozen=True)
class ApplyResult:
    """How a state was made live (``reload``, ``runtime_api``, or ``unchanged``
    when the LB already served exactly this state), how long the whole apply
    took, and which release answered the verification request."""

    method: str
    duration_s: float
    verified_release: str | None
    changed: bool
    config_generation: str = ""


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


@dataclass(frozen=True)
class ProbeResult:
    """One request through the LB on a fresh connection, and the shipdeck
    headers it came back with (absent when no backend answered)."""

    status: int
    release: str | None
    backend: str | None
    config_generation: str | None
