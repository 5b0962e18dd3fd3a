"""Load and validate ``shipdeck.toml`` into the typed model, collecting every error.

Errors are one line each, ``FILE:LINE: dotted.path: cause``, and the whole lot
is raised as one ``ConfigInvalid`` (exit 2). Nothing here may raise anything
else for any input: the hypothesis fuzz test holds it to that.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from console.core.config.lines import LineIndex
from console.core.config.model import (
    DEFAULT_CANARY_STEPS,
    ENVIRONMENTS,
    CanaryStep,
    Config,
    EnvironmentTarget,
    HostConfig,
    LoadBalancerConfig,
    MetricsConfig,
    ServiceConfig,
    SmokeCheck,
    SshEndpoint,
)
from console.core.config.validate import (
    check_address,
    check_name,
    check_port,
    check_repository,
    parse_duration_s,
    parse_listen,
)
from console.core.errors import ConfigInvalid

DEFAULT_STATE_PATH = Path("~/.local/state/shipdeck/state.db")
CONFIG_CANDIDATES = (Path("shipdeck.toml"), Path("config/shipdeck.toml"))
_SSH_RE = re.compile(
    r"^ssh://(?P<user>[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})@(?P<host>[^:/@]+)(?::(?P<port>\d+))?$"
)
_MISSING = object()


def default_state_path(env: dict[str, str] | None = None) -> Path:
    environ = os.environ if env is None else env
    base = environ.get("XDG_STATE_HOME")
    if base:
        return Path(base) / "shipdeck" / "state.db"
    return DEFAULT_STATE_PATH.expanduser()


def locate_config(explicit: str | None, env: dict[str, str] | None = None) -> Path | None:
    """``--config``, ``$SHIPDECK_CONFIG``, ``./shipdeck.toml``, ``./config/shipdeck.toml``."""
    environ = os.environ if env is None else env
    if explicit:
        return Path(explicit)
    if environ.get("SHIPDECK_CONFIG"):
        return Path(environ["SHIPDECK_CONFIG"])
    for candidate in CONFIG_CANDIDATES:
        if candidate.is_file():
            return candidate
    return None


class _Errors:
    """Collects ``file:line: path: cause`` lines."""

    def __init__(self, source: str, lines: LineIndex) -> None:
        self.source = source
        self.lines = lines
        self.items: list[str] = []

    def add(self, path: str, cause: str) -> None:
        line = self.lines.line_of(path)
        self.items.append(f"{self.source}:{line}: {_printable(path)}: {_printable(cause)}")


class _Table:
    """A TOML table being read: typed getters that record errors and unknown keys."""

    def __init__(self, data: Any, path: str, errors: _Errors) -> None:
        self.path = path
        self.errors = errors
        self.ok = isinstance(data, dict)
        if not self.ok:
            errors.add(path, f"expected a table, got {_type_name(data)}")
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        self.seen: set[str] = set()

    def sub(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def raw(self, key: str) -> Any:
        self.seen.add(key)
        return self.data.get(key, _MISSING)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = _MISSING) -> Any:
        value = self.raw(key)
        if value is _MISSING:
            if default is _MISSING:
                self.errors.add(self.sub(key), "required key is missing")
                return None
            return default
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            self.errors.add(self.sub(key), f"expected {_kind_name(kinds)}, got boolean")
            return default if default is not _MISSING else None
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, kinds):
            self.errors.add(self.sub(key), f"expected {_kind_name(kinds)}, got {_type_name(value)}")
            return default if default is not _MISSING else None
        return value

    def check(self, key: str, value: Any, checker: Callable[[Any], str | None]) -> bool:
        if value is None:
            return False
        error = checker(value)
        if error:
            self.errors.add(self.sub(key), error)
            return False
        return True

    def string_list(self, key: str, default: Any = _MISSING) -> list[str]:
        value = self.get(key, list, default)
        if value is None:
            return []
        result = []
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.errors.add(
                    f"{self.sub(key)}[{index}]", f"expected a string, got {_type_name(item)}"
                )
            else:
                result.append(item)
        return result

    def finish(self) -> None:
        for key in self.data:
            if key not in self.seen:
                self.errors.add(self.sub(key), "unknown key")


def _printable(text: str) -> str:
    """Keep every error on one line, whatever a key or value contains."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _type_name(value: Any) -> str:
    return {
        bool: "boolean",
        int: "integer",
        float: "float",
        str: "string",
        list: "array",
        dict: "table",
    }.get(type(value), type(value).__name__)


def _kind_name(kinds: tuple[type, ...]) -> str:
    return " or ".join(_type_name(k()) if k is not bool else "boolean" for k in kinds)


def load_config(path: Path, env: dict[str, str] | None = None) -> Config:
    """Read and validate a config file; raise ``ConfigInvalid`` with every error."""
    display = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigInvalid([f"{display}: config file not found"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigInvalid([f"{display}: cannot read config: {error}"]) from None
    return replace(parse_config(text, display, path, env), path=path)


def parse_config(
    text: str,
    display: str = "shipdeck.toml",
    path: Path | None = None,
    env: dict[str, str] | None = None,
) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = re.search(r"\(at line (\d+), column \d+\)", message)
        line = match.group(1) if match else "1"
        cause = re.sub(r"\s*\(at line \d+, column \d+\)", "", message) or "invalid TOML"
        raise ConfigInvalid([f"{display}:{line}: invalid TOML: {cause}"]) from None
    errors = _Errors(display, LineIndex(text))
    base_dir = path.parent if path is not None else Path.cwd()
    config = _build(data, errors, base_dir, env)
    if errors.items or config is None:
        raise ConfigInvalid(errors.items or [f"{display}: invalid config"])
    return config


def _resolve_path(value: str, base_dir: Path) -> Path:
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else (base_dir / candidate)


def _build(
    data: dict[str, Any], errors: _Errors, base_dir: Path, env: dict[str, str] | None
) -> Config | None:
    root = _Table(data, "", errors)
    hosts = _read_hosts(root, errors, base_dir)
    lbs = _read_load_balancers(root, errors, base_dir, hosts)
    metrics = _read_metrics(root, errors)
    templates = _read_templates(root, errors)
    services = _read_services(root, errors, hosts, lbs, templates)
    flags_raw = root.get("flags_path", str, "flags.toml")
    state_raw = root.get("state_path", str, None)
    lease_s = root.get("lock_lease_s", (int, float), 30.0)
    keymap_table = _Table(
        root.raw("keymap") if root.raw("keymap") is not _MISSING else {}, "keymap", errors
    )
    keymap = {k: v for k, v in keymap_table.data.items() if isinstance(v, str)}
    for key, value in keymap_table.data.items():
        keymap_table.seen.add(key)
        if not isinstance(value, str):
            errors.add(f"keymap.{key}", f"expected a string of keys, got {_type_name(value)}")
    root.finish()
    if lease_s is not None and lease_s <= 0:
        errors.add("lock_lease_s", "must be positive")
    _check_duplicate_ports(services, errors)
    state_path = _resolve_path(state_raw, base_dir) if state_raw else default_state_path(env)
    return Config(
        path=None,
        hosts=hosts,
        load_balancers=lbs,
        metrics=metrics,
        services=services,
        analysis_templates=templates,
        flags_path=_resolve_path(flags_raw or "flags.toml", base_dir),
        state_path=state_path,
        lock_lease_s=float(lease_s or 30.0),
        keymap=keymap,
    )


def _named_tables(root: _Table, key: str, errors: _Errors) -> list[tuple[str, _Table]]:
    raw = root.raw(key)
    if raw is _MISSING:
        return []
    if not isinstance(raw, dict):
        errors.add(key, f"expected a table, got {_type_name(raw)}")
        return []
    result = []
    for name, body in raw.items():
        path = f"{key}.{name}"
        name_error = check_name(name)
        if name_error:
            errors.add(path, name_error)
            continue
        result.append((name, _Table(body, path, errors)))
    return result


def _read_hosts(root: _Table, errors: _Errors, base_dir: Path) -> dict[str, HostConfig]:
    hosts: dict[str, HostConfig] = {}
    for name, table in _named_tables(root, "hosts", errors):
        if not table.ok:
            continue
        address = table.get("address", str)
        ssh: SshEndpoint | None = None
        if address is not None and address != "local":
            match = _SSH_RE.match(address)
            if not match:
                errors.add(
                    table.sub("address"),
                    f'invalid address {address!r}: expected "ssh://user@host:port" or "local"',
                )
            else:
                port = int(match.group("port") or 22)
                host_error = check_address(match.group("host")) or check_port(port)
                if host_error:
                    errors.add(table.sub("address"), host_error)
                else:
                    ssh = SshEndpoint(match.group("user"), match.group("host"), port)
        socket_path = table.get("docker_socket", str, "/var/run/docker.sock")
        known_hosts = table.get("known_hosts", str, None)
        identity = table.get("identity_file", str, None)
        publish = table.get("publish_address", str, "127.0.0.1")
        table.check("publish_address", publish, check_address)
        timeout_s = table.get("connect_timeout_s", (int, float), 10.0)
        if timeout_s is not None and timeout_s <= 0:
            errors.add(table.sub("connect_timeout_s"), "must be positive")
        table.finish()
        if ssh is not None and known_hosts is None:
            known_hosts = "~/.ssh/known_hosts"
        hosts[name] = HostConfig(
            name=name,
            ssh=ssh,
            docker_socket=socket_path or "/var/run/docker.sock",
            known_hosts=_resolve_path(known_hosts, base_dir) if known_hosts else None,
            identity_file=_resolve_path(identity, base_dir) if identity else None,
            publish_address=publish or "127.0.0.1",
            connect_timeout_s=float(timeout_s or 10.0),
        )
    return hosts


def _command(table: _Table, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = table.raw(key)
    if raw is _MISSING:
        return default
    if not isinstance(raw, list) or not raw or not all(isinstance(p, str) and p for p in raw):
        table.errors.add(
            table.sub(key), "expected a non-empty array of strings (argv, never a shell string)"
        )
        return default
    return tuple(raw)


def _read_load_balancers(
    root: _Table, errors: _Errors, base_dir: Path, hosts: dict[str, HostConfig]
) -> dict[str, LoadBalancerConfig]:
    lbs: dict[str, LoadBalancerConfig] = {}
    for name, table in _named_tables(root, "load_balancers", errors):
        if not table.ok:
            continue
        kind = table.get("kind", str)
        if kind is not None and kind not in ("nginx", "haproxy"):
            errors.add(table.sub("kind"), f'unknown kind "{kind}": expected "nginx" or "haproxy"')
            kind = None
        host = table.get("host", str, "local")
        if host is not None and host != "local" and host not in hosts:
            errors.add(table.sub("host"), f'unknown host "{host}"')
        default_dir = "/etc/nginx/conf.d" if kind != "haproxy" else "/etc/haproxy/conf.d"
        default_main = "/etc/nginx/nginx.conf" if kind != "haproxy" else "/etc/haproxy/haproxy.cfg"
        config_dir = table.get("config_dir", str, default_dir) or default_dir
        main_config = table.get("main_config", str, default_main) or default_main
        if kind == "haproxy":
            validate_default: tuple[str, ...] = (
                "haproxy",
                "-c",
                "-f",
                main_config,
                "-f",
                config_dir,
            )
            reload_default: tuple[str, ...] = ()
        else:
            validate_default = ("nginx", "-t", "-c", main_config)
            reload_default = ("nginx", "-c", main_config, "-s", "reload")
        validate = _command(table, "validate_command", validate_default)
        reload_cmd = _command(table, "reload_command", reload_default)
        stats = table.get("stats_socket", str, None)
        master = table.get("master_socket", str, None)
        runtime = table.get("use_runtime_api", bool, True)
        table.finish()
        lbs[name] = LoadBalancerConfig(
            name=name,
            kind=kind or "nginx",
            host=host or "local",
            config_dir=_resolve_path(config_dir, base_dir),
            main_config=_resolve_path(main_config, base_dir),
            validate_command=validate,
            reload_command=reload_cmd,
            stats_socket=_resolve_path(stats, base_dir) if stats else None,
            use_runtime_api=bool(runtime),
            master_socket=_resolve_path(master, base_dir) if master else None,
        )
    return lbs


def _read_metrics(root: _Table, errors: _Errors) -> MetricsConfig:
    raw = root.raw("metrics")
    table = _Table({} if raw is _MISSING else raw, "metrics", errors)
    url = table.get("prometheus_url", str, None)
    if url is not None and not re.match(r"^https?://[^\s/]+(/\S*)?$", url):
        errors.add("metrics.prometheus_url", f"invalid URL {url!r}")
    interval = table.get("scrape_interval_s", (int, float), 5.0)
    timeout = table.get("query_timeout_s", (int, float), 5.0)
    for key, value in (("scrape_interval_s", interval), ("query_timeout_s", timeout)):
        if value is not None and value <= 0:
            errors.add(f"metrics.{key}", "must be positive")
    table.finish()
    return MetricsConfig(url or None, float(interval or 5.0), float(timeout or 5.0))


def _read_templates(root: _Table, errors: _Errors) -> dict[str, Any]:
    from console.core.errors import ShipdeckError

    try:
        from console.core.judge.template import AnalysisTemplate
    except ImportError:  # the judge package is optional while it is being built
        AnalysisTemplate = None  # type: ignore[assignment]  # noqa: N806
    templates: dict[str, Any] = {}
    for name, table in _named_tables(root, "analysis", errors):
        if not table.ok:
            continue
        table.seen.update(table.data)
        if AnalysisTemplate is None:
            templates[name] = dict(table.data)
            continue
        try:
            templates[name] = AnalysisTemplate.from_mapping(dict(table.data), f"analysis.{name}")
        except ShipdeckError as error:
            # The template reports "analysis.NAME: KEY: problem".
            parts = error.message.split(": ", 2)
            if len(parts) == 3 and parts[1] in table.data:
                errors.add(f"analysis.{name}.{parts[1]}", parts[2])
            else:
                errors.add(f"analysis.{name}", error.message.split(": ", 1)[-1])
    if "default" not in templates and AnalysisTemplate is not None:
        templates["default"] = AnalysisTemplate.from_mapping({}, "analysis.default")
    return templates


def _read_steps(table: _Table, templates: dict[str, Any]) -> tuple[CanaryStep, ...]:
    raw = table.raw("canary_steps")
    if raw is _MISSING:
        return DEFAULT_CANARY_STEPS
    path = table.sub("canary_steps")
    if not isinstance(raw, list) or not raw:
        table.errors.add(path, "expected a non-empty array of steps")
        return DEFAULT_CANARY_STEPS
    steps: list[CanaryStep] = []
    for index, item in enumerate(raw):
        step_table = _Table(item, f"{path}[{index}]", table.errors)
        if not step_table.ok:
            continue
        keys = set(step_table.data)
        if "weight" in keys:
            weight = step_table.get("weight", int)
            if weight is not None and not 0 < weight <= 100:
                table.errors.add(step_table.sub("weight"), "must be an integer 1-100")
            else:
                steps.append(CanaryStep(weight_pct=weight))
        elif "pause" in keys:
            pause = step_table.get("pause", (str, int, float))
            if pause == "manual":
                steps.append(CanaryStep(manual_pause=True))
            elif pause is not None:
                seconds = parse_duration_s(pause)
                if isinstance(seconds, str):
                    table.errors.add(step_table.sub("pause"), seconds + ' or "manual"')
                else:
                    steps.append(CanaryStep(pause_s=seconds))
        elif "analysis" in keys:
            name = step_table.get("analysis", str)
            duration = parse_duration_s(step_table.get("duration", (str, int, float), "5m"))
            if isinstance(duration, str):
                table.errors.add(step_table.sub("duration"), duration)
            elif name is not None:
                if templates and name not in templates:
                    table.errors.add(
                        step_table.sub("analysis"), f'unknown analysis template "{name}"'
                    )
                steps.append(CanaryStep(analysis=name, duration_s=duration))
        else:
            table.errors.add(step_table.path, "a step needs one of weight, pause, analysis")
        step_table.finish()
    weights = [s.weight_pct for s in steps if s.weight_pct is not None]
    if steps and (not weights or weights[-1] != 100):
        table.errors.add(path, "the last weight step must be 100")
    if weights != sorted(weights):
        table.errors.add(path, "weights must not decrease")
    return tuple(steps)


def _read_smoke(table: _Table) -> tuple[SmokeCheck, ...]:
    raw = table.raw("smoke")
    if raw is _MISSING:
        return ()
    path = table.sub("smoke")
    if not isinstance(raw, list):
        table.errors.add(path, "expected an array of tables")
        return ()
    checks = []
    for index, item in enumerate(raw):
        check = _Table(item, f"{path}[{index}]", table.errors)
        if not check.ok:
            continue
        check_path = check.get("path", str)
        status = check.get("status", int, 200)
        contains = check.get("contains", str, None)
        check.finish()
        if check_path is not None and not check_path.startswith("/"):
            table.errors.add(check.sub("path"), "must start with /")
        elif check_path is not None:
            checks.append(SmokeCheck(check_path, status or 200, contains))
    return tuple(checks)


def _read_services(
    root: _Table,
    errors: _Errors,
    hosts: dict[str, HostConfig],
    lbs: dict[str, LoadBalancerConfig],
    templates: dict[str, Any],
) -> dict[str, Any]:
    services: dict[str, ServiceConfig] = {}
    for name, table in _named_tables(root, "services", errors):
        if not table.ok:
            continue
        image = table.get("image", str)
        table.check("image", image, check_repository)
        container_port = table.get("container_port", int, 8000)
        table.check("container_port", container_port, check_port)
        health_path = table.get("health_path", str, "/healthz")
        if health_path is not None and not health_path.startswith("/"):
            errors.add(table.sub("health_path"), "must start with /")
        health_timeout = table.get("health_timeout_s", (int, float), 30.0)
        strategy = table.get("strategy", str, "blue-green")
        if strategy is not None and strategy not in ("blue-green", "canary"):
            errors.add(
                table.sub("strategy"),
                f'unknown strategy "{strategy}": expected "blue-green" or "canary"',
            )
        analysis = table.get("analysis", str, "default")
        if analysis is not None and templates and analysis not in templates:
            errors.add(table.sub("analysis"), f'unknown analysis template "{analysis}"')
        steps = _read_steps(table, templates)
        keep = table.get("releases_to_keep", int, 5)
        if keep is not None and keep < 0:
            errors.add(table.sub("releases_to_keep"), "must be 0 (never prune) or more")
        webhooks = table.string_list("webhooks", [])
        slack = table.string_list("slack_webhooks", [])
        for key, urls in (("webhooks", webhooks), ("slack_webhooks", slack)):
            for index, url in enumerate(urls):
                if not re.match(r"^https?://\S+$", url):
                    errors.add(f"{table.sub(key)}[{index}]", f"invalid URL {url!r}")
        smoke = _read_smoke(table)
        verify_s = parse_duration_s(table.get("post_deploy_verify", (str, int, float), "30s"))
        if isinstance(verify_s, str):
            errors.add(table.sub("post_deploy_verify"), verify_s)
            verify_s = 30.0
        max_error_rate = table.get("max_error_rate", (int, float), 0.05)
        env_table = table.raw("env")
        container_env: dict[str, str] = {}
        if env_table is not _MISSING:
            if not isinstance(env_table, dict):
                errors.add(table.sub("env"), "expected a table of strings")
            else:
                for key, value in env_table.items():
                    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key) or not isinstance(value, str):
                        errors.add(f"{table.sub('env')}.{key}", 'expected NAME = "string"')
                    else:
                        container_env[key] = value
        schema_label = table.get("schema_label", str, "shipdeck.schema")
        drill_days = table.get("drill_max_age_days", (int, float), 7.0)
        environments = _read_environments(table, errors, hosts, lbs)
        table.finish()
        services[name] = ServiceConfig(
            name=name,
            image=image or "",
            container_port=container_port or 8000,
            health_path=health_path or "/healthz",
            health_timeout_s=float(health_timeout or 30.0),
            strategy=strategy if strategy in ("blue-green", "canary") else "blue-green",  # type: ignore[arg-type]
            canary_steps=steps,
            analysis=analysis or "default",
            environments=environments,
            releases_to_keep=5 if keep is None else keep,
            webhooks=tuple(webhooks),
            slack_webhooks=tuple(slack),
            smoke=smoke,
            post_deploy_verify_s=float(verify_s),
            max_error_rate=float(max_error_rate if max_error_rate is not None else 0.05),
            env=container_env,
            schema_label=schema_label or "shipdeck.schema",
            drill_max_age_days=float(drill_days or 7.0),
        )
    return services


_ENV_KEYS = ("hosts", "load_balancer", "listen", "preview_listen", "base_port", "protected")


def _read_environments(
    table: _Table, errors: _Errors, hosts: dict[str, HostConfig], lbs: dict[str, LoadBalancerConfig]
) -> dict[str, EnvironmentTarget]:
    """Service-level keys are the defaults; ``[services.X.environments.E]`` overrides them.

    Without an environments table the service has one environment, production.
    """
    defaults = {key: table.raw(key) for key in _ENV_KEYS}
    raw_envs = table.raw("environments")
    env_tables: dict[str, tuple[dict[str, Any], str]] = {}
    if raw_envs is _MISSING:
        env_tables["production"] = ({}, table.path)
    elif not isinstance(raw_envs, dict):
        errors.add(
            table.sub("environments"), "expected a table of environments (staging, production)"
        )
    else:
        for env_name, body in raw_envs.items():
            path = f"{table.sub('environments')}.{env_name}"
            if env_name not in ENVIRONMENTS:
                errors.add(
                    path,
                    f'unknown environment "{env_name}": expected one of {", ".join(ENVIRONMENTS)}',
                )
            elif not isinstance(body, dict):
                errors.add(path, f"expected a table, got {_type_name(body)}")
            else:
                env_tables[env_name] = (body, path)
    result: dict[str, EnvironmentTarget] = {}
    for env_name, (body, path) in env_tables.items():
        merged = {k: v for k, v in defaults.items() if v is not _MISSING}
        merged.update(body)
        env = _Table(merged, path, errors)
        # Locate errors at the environment table when the key is set there, else the service.
        host_names = env.string_list("hosts")
        if not host_names and "hosts" in merged:
            errors.add(env.sub("hosts"), "a service needs at least one host")
        for index, host_name in enumerate(host_names):
            if host_name not in hosts:
                errors.add(
                    env.sub("hosts") if "hosts" in body else table.sub("hosts"),
                    f'unknown host "{host_name}"',
                )
            if host_names.index(host_name) != index:
                errors.add(env.sub("hosts"), f'host "{host_name}" listed twice')
        lb = env.get("load_balancer", str)
        if lb is not None and lb not in lbs:
            errors.add(
                env.sub("load_balancer") if "load_balancer" in body else table.sub("load_balancer"),
                f'unknown load balancer "{lb}"',
            )
        listen = parse_listen(env.get("listen", str))
        preview = parse_listen(env.get("preview_listen", str))
        for key, parsed in (("listen", listen), ("preview_listen", preview)):
            if isinstance(parsed, str) and merged.get(key) is not None:
                errors.add(env.sub(key) if key in body else table.sub(key), parsed)
        base_port = env.get("base_port", int)
        if base_port is not None and (check_port(base_port) or base_port + 2 > 65535):
            errors.add(
                env.sub("base_port"),
                f"invalid base_port {base_port}: needs base..base+2 free ports",
            )
            base_port = None
        protected = env.get("protected", bool, env_name == "production")
        env.finish()
        if (
            isinstance(listen, tuple)
            and isinstance(preview, tuple)
            and base_port is not None
            and lb
        ):
            result[env_name] = EnvironmentTarget(
                name=env_name,
                hosts=tuple(host_names),
                load_balancer=lb,
                listen_address=listen[0],
                listen_port=listen[1],
                preview_port=preview[1],
                base_port=base_port,
                protected=bool(protected),
            )
    return result


def _check_duplicate_ports(services: dict[str, ServiceConfig], errors: _Errors) -> None:
    """Two services (or environments) claiming one port would silently steal traffic.

    Listener ports are claimed per load balancer, container host ports per host.
    """
    claims: dict[tuple[str, int], str] = {}
    for service in services.values():
        for env in service.environments.values():
            prefix = f"services.{service.name}"
            if len(service.environments) > 1:
                prefix = f"{prefix}.environments.{env.name}"
            wanted = [
                (f"{prefix}.listen", [f"lb:{env.load_balancer}"], env.listen_port),
                (f"{prefix}.preview_listen", [f"lb:{env.load_balancer}"], env.preview_port),
            ]
            host_scopes = [f"host:{h}" for h in env.hosts]
            wanted += [(f"{prefix}.base_port", host_scopes, env.base_port + i) for i in range(3)]
            for label, scopes, port in wanted:
                for scope in scopes:
                    claim = (scope, port)
                    if claim in claims and claims[claim] != label:
                        errors.add(label, f"duplicate port {port}: already used by {claims[claim]}")
                        break
                    claims[claim] = label
