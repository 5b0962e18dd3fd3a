"""Load balancer config writers (nginx, HAProxy): render a service's traffic
state, install it safely (checker → atomic rename → graceful reload or
HAProxy runtime API → verify), and read back what the LB serves. Works on the
console's machine or on an LB host over SSH through the same ``Transport``."""

from __future__ import annotations

from engines.errors import InvalidTargetInput
from engines.lb.haproxy import HaproxyWriter
from engines.lb.model import (
    ApplyResult,
    Backend,
    LbSettings,
    NoHealthyBackend,
    ObservedBackend,
    ProbeResult,
    TrafficState,
)
from engines.lb.nginx import NginxWriter
from engines.lb.transport import LocalTransport, SshTransport, Transport
from engines.lb.writer import LbWriter


def make_writer(settings: LbSettings, transport: Transport) -> LbWriter:
    """The writer for ``settings.kind`` over ``transport`` (local or SSH)."""
    if settings.kind == "nginx":
        return NginxWriter(settings, transport)
    if settings.kind == "haproxy":
        return HaproxyWriter(settings, transport)
    raise InvalidTargetInput(settings.name, f"LB kind {settings.kind!r} must be nginx or haproxy")


__all__ = [
    "ApplyResult",
    "Backend",
    "HaproxyWriter",
    "LbSettings",
    "LbWriter",
    "LocalTransport",
    "NginxWriter",
    "NoHealthyBackend",
    "ObservedBackend",
    "ProbeResult",
    "SshTransport",
    "TrafficState",
    "Transport",
    "make_writer",
]
