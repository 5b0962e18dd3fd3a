"""Configuration: the typed model and its loader."""

from console.core.config.loader import default_state_path, load_config, locate_config, parse_config
from console.core.config.model import (
    CanaryStep,
    Config,
    EnvironmentTarget,
    HostConfig,
    LoadBalancerConfig,
    MetricsConfig,
    ServiceConfig,
    SmokeCheck,
)

__all__ = [
    "CanaryStep",
    "Config",
    "EnvironmentTarget",
    "HostConfig",
    "LoadBalancerConfig",
    "MetricsConfig",
    "ServiceConfig",
    "SmokeCheck",
    "default_state_path",
    "load_config",
    "locate_config",
    "parse_config",
]
