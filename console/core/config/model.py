"""The typed configuration model: what ``shipdeck.toml`` means once validated.

Everything here is frozen: a loaded config is a value, never mutated. The
loader (``loader.py``) is the only place that builds these from TOML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

LbKind = Literal["nginx", "haproxy"]
Strategy = Literal["blue-green", "canary"]
ENVIRONMENTS: tuple[str, ...] = ("staging", "production")
COLORS: tuple[str, str] = ("blue", "green")


@dataclass(frozen=True)
class SshEndpoint:
    user: str
    address: str
    port: int


@dataclass(frozen=True)
class HostConfig:
    """A Docker host; ``ssh is None`` means the console's own machine."""

    name: str
    ssh: SshEndpoint | None
    docker_socket: str
    known_hosts: Path | None
    identity_file: Path | None
    publish_address: str
    connect_timeout_s: float

    @property
    def is_local(self) -> bool:
        return self.ssh is None


@dataclass(frozen=True)
class LoadBalancerConfig:
    name: str
    kind: LbKind
    host: str  # "local" or a host name
    config_dir: Path
    main_config: Path
    validate_command: tuple[str, ...]
    reload_command: tuple[str, ...]
    stats_socket: Path | None
    use_runtime_api: bool
    master_socket: Path | None = None


@dataclass(frozen=True)
class MetricsConfig:
    prometheus_url: str | None
    scrape_interval_s: float
    query_timeout_s: float


@dataclass(frozen=True)
class SmokeCheck:
    path: str
    expect_status: int
    body_contains: str | None


@dataclass(frozen=True)
class CanaryStep:
    """One step: exactly one of weight, pause, analysis is set."""

    weight_pct: int | None = None
    pause_s: float | None = None  # None with manual_pause False: not a pause step
    manual_pause: bool = False
    analysis: str | None = None
    duration_s: float | None = None

    @property
    def kind(self) -> str:
        if self.weight_pct is not None:
            return "weight"
        if self.analysis is not None:
            return "analysis"
        return "pause"

    def describe(self) -> str:
        if self.weight_pct is not None:
            return f"weight {self.weight_pct}%"
        if self.analysis is not None:
            return f"analysis {self.analysis} for {int(self.duration_s or 0)}s"
        if self.manual_pause:
            return "pause until promoted"
        return f"pause {int(self.pause_s or 0)}s"


DEFAULT_CANARY_STEPS: tuple[CanaryStep, ...] = (
    CanaryStep(weight_pct=5),
    CanaryStep(analysis="default", duration_s=600),
    CanaryStep(weight_pct=25),
    CanaryStep(analysis="default", duration_s=600),
    CanaryStep(weight_pct=50),
    CanaryStep(analysis="default", duration_s=600),
    CanaryStep(weight_pct=100),
)


@dataclass(frozen=True)
class EnvironmentTarget:
    """Where one environment of a service runs and how traffic reaches it."""

    name: str
    hosts: tuple[str, ...]
    load_balancer: str
    listen_address: str
    listen_port: int
    preview_port: int
    base_port: int  # blue = base, green = base + 1, canary = base + 2
    protected: bool

    def host_port(self, slot: str) -> int:
        return self.base_port + {"blue": 0, "green": 1, "canary": 2}[slot]


@dataclass(frozen=True)
class ServiceConfig:
    name: str
    image: str  # repository, e.g. 127.0.0.1:5000/demo
    container_port: int
    health_path: str
    health_timeout_s: float
    strategy: Strategy
    canary_steps: tuple[CanaryStep, ...]
    analysis: str
    environments: dict[str, EnvironmentTarget]
    releases_to_keep: int
    webhooks: tuple[str, ...]
    slack_webhooks: tuple[str, ...]
    smoke: tuple[SmokeCheck, ...]
    post_deploy_verify_s: float
    max_error_rate: float
    env: dict[str, str]
    schema_label: str
    drill_max_age_days: float


@dataclass(frozen=True)
class Config:
    path: Path | None
    hosts: dict[str, HostConfig]
    load_balancers: dict[str, LoadBalancerConfig]
    metrics: MetricsConfig
    services: dict[str, ServiceConfig]
    analysis_templates: dict[str, Any]  # name → console.core.judge AnalysisTemplate
    flags_path: Path
    state_path: Path
    lock_lease_s: float = 30.0
    keymap: dict[str, str] = field(default_factory=dict)
    # A team's shared PostgreSQL store (no password in it); None: the SQLite file above.
    state_url: str | None = None

    def service(self, name: str) -> ServiceConfig:
        from console.core.errors import InvalidInput

        try:
            return self.services[name]
        except KeyError:
            known = ", ".join(sorted(self.services)) or "none"
            raise InvalidInput(f'unknown service "{name}" (configured: {known})') from None
