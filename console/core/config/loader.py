"""Load and validate ``shipdeck.toml`` into the typed model, collecting every error.

Errors are one line each, ``FILE:LINE: dotted.path: cause``, and the whole lot
is raised as one ``ConfigInvalid`` (exit 2). Nothing here may raise anything
else for any input: the hypothesis fuzz tests hold it to that.

Every number is read through one of ``_Table``'s range getters (``ratio``,
``seconds``, ``duration_s``, ``integer``, ``port``), never compared by hand:
a ``nan`` slips past ``value <= 0``, and each range is documented once, in
``validate.py`` and ``config/shipdeck.example.toml``. Once the config is
valid, the engines' own deploy-time checks run on it too (``deploy_checks``),
so ``config check`` refuses whatever a deploy would.
"""

from __future__ import annotations

import os
import re
import select
import stat
import time
import tomllib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

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
    MAX_CONNECT_TIMEOUT_S,
    MAX_DRILL_AGE_DAYS,
    MAX_LOCK_LEASE_S,
    MAX_RELEASES_TO_KEEP,
    MAX_TIMEOUT_S,
    MAX_VERIFY_S,
    MAX_WINDOW_S,
    MIN_LOCK_LEASE_S,
    check_address,
    check_env_name,
    check_file_path,
    check_health_path,
    check_http_status,
    check_http_url,
    check_integer,
    check_label_prefix,
    check_name,
    check_number,
    check_port,
    check_publish_address,
    check_repository,
    check_request_path,
    check_socket_path,
    parse_duration_s,
    parse_listen,
)
from console.core.errors import ConfigInvalid

DEFAULT_STATE_PATH = Path("~/.local/state/shipdeck/state.db")
CONFIG_CANDIDATES = (Path("shipdeck.toml"), Path("config/shipdeck.toml"))
# A config is a page of TOML; a megabyte is a wrong file (or /dev/zero), not a config.
MAX_CONFIG_BYTES = 1024 * 1024
# How long a pipe or FIFO may take to deliver a whole config (nobody typing one in).
STREAM_WAIT_S = 5.0
# The SSH engine's user rule (engines/ssh.py); the port is bounded before int().
_SSH_RE = re.compile(
    r"\Assh://(?P<user>[a-z_][a-z0-9_.-]{0,31})@(?P<host>[^:/@]+)(?::(?P<port>[0-9]{1,5}))?\Z"
)
# The LB names a backend "<host>-<slot>" ("-canary" is the longest) within 63 characters.
MAX_HOST_NAME_CHARS = 63 - len("-canary")
# Containers carry "<service>" or "<service>-<environment>", at most 40 characters
# (engines/docker_host.py ContainerSpec), never ending in "-".
MAX_INSTANCE_NAME_CHARS = 40
# Integer judge parameters the analysis template leaves unbounded above: past
# these a bound or the traffic guard never collects enough to decide.
_ANALYSIS_INTEGER_MAX = {
    "min_canary_requests": 10**9,
    "min_reference_requests": 10**9,
    "traffic_min_expected_requests": 10**9,
    "traffic_window_intervals": 1000,
}
_BOUND_MIN_SAMPLES_MAX = 10_000
_MISSING = object()


def default_state_path(env: dict[str, str] | None = None) -> Path:
    environ = os.environ if env is None else env
    base = environ.get("XDG_STATE_HOME")
    if base:
        return Path(base) / "shipdeck" / "state.db"
    return DEFAULT_STATE_PATH.expanduser()


STATE_URL_SCHEMES = ("postgresql", "postgres")
MAX_STATE_URL_CHARS = 2048


def check_state_url(value: object) -> str | None:
    """A shared store's URL: ``postgresql://`` (or ``postgres://``), printable, and
    without a password (that comes from PGPASSWORD, ~/.pgpass or a passfile).
    The cause never quotes a URL that holds a password."""
    hint = "expected postgresql://USER@HOST:PORT/DATABASE"
    if not isinstance(value, str) or not value.strip():
        return f"invalid URL: {hint}"
    if len(value) > MAX_STATE_URL_CHARS or not all("!" <= c <= "~" for c in value):
        return f"invalid URL: control characters, spaces or more than {MAX_STATE_URL_CHARS} characters; {hint}"
    try:
        parts = urlsplit(value)
        has_password = parts.password is not None
        query = parse_qsl(parts.query, keep_blank_values=True)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not one
    except ValueError:
        return f"invalid URL: {hint}"
    if has_password or any(key.lower() == "password" for key, _ in query):
        return (
            "a password cannot be part of the URL (it would sit in a config file or a"
            " process list): use PGPASSWORD, ~/.pgpass or passfile"
        )
    if parts.scheme.lower() not in STATE_URL_SCHEMES:
        return f"invalid URL {value[:60]!r}: only PostgreSQL is supported; {hint}"
    if not parts.path.strip("/"):
        return f"invalid URL {value[:60]!r}: no database named; {hint}"
    return None


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
            return value  # the range getters convert, after bounding it
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

    def number(
        self, key: str, default: Any, low: float, high: float, *, low_inclusive: bool = False
    ) -> float | None:
        """A finite number in ``(low, high]`` (``[low, high]``), or None after an error."""
        value = self.get(key, (int, float), default)
        if value is None:
            return None
        result = check_number(value, low, high, low_inclusive=low_inclusive)
        if isinstance(result, str):
            self.errors.add(self.sub(key), result)
            return None
        return result

    def ratio(self, key: str, default: Any) -> float | None:
        """A share or rate: ``[0, 1]``."""
        return self.number(key, default, 0.0, 1.0, low_inclusive=True)

    def seconds(self, key: str, default: Any, high: float) -> float | None:
        """A timeout or interval in seconds: ``(0, high]``."""
        return self.number(key, default, 0.0, high)

    def duration_s(
        self,
        key: str,
        default: Any,
        high: float = MAX_WINDOW_S,
        *,
        allow_zero: bool = False,
        alternative: str = "",
    ) -> float | None:
        """``"10m"``/``"30s"``/``90`` → seconds in ``(0, high]`` (``[0, high]`` with
        ``allow_zero``); ``alternative`` names another accepted value in errors."""
        value = self.get(key, (str, int, float), default)
        if value is None:
            return None
        seconds = parse_duration_s(value, high)
        if isinstance(seconds, str):
            self.errors.add(self.sub(key), seconds + (f" or {alternative}" if alternative else ""))
            return None
        if seconds <= 0 and not allow_zero:
            self.errors.add(self.sub(key), f"invalid duration {value!r}: must be longer than 0s")
            return None
        return seconds

    def integer(self, key: str, default: Any, low: int, high: int) -> int | None:
        value = self.get(key, int, default)
        if value is None:
            return None
        result = check_integer(value, low, high)
        if isinstance(result, str):
            self.errors.add(self.sub(key), result)
            return None
        return result

    def port(self, key: str, default: Any = _MISSING) -> int | None:
        value = self.get(key, int, default)
        return value if self.check(key, value, check_port) else None

    def checked(self, key: str, default: Any, checker: Callable[[Any], str | None]) -> str | None:
        """A string that ``checker`` accepts, or None (after an error, or when absent)."""
        value = self.get(key, str, default)
        return value if self.check(key, value, checker) else None

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
    display = _printable(str(path))
    data = _read_bounded(path, display)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigInvalid(
            [f"{display}:1: cannot read config: not UTF-8 ({error.reason})"]
        ) from None
    return replace(parse_config(text, display, path, env), path=path)


def _read_bounded(path: Path, display: str) -> bytes:
    """At most ``MAX_CONFIG_BYTES`` (+1, to tell "too large") from any kind of file,
    bounded by reading, never by ``stat()``: /dev/zero and pipes report size 0.

    Opened non-blocking, so a FIFO nobody writes to cannot hang ``open()``; a
    pipe or device gets ``STREAM_WAIT_S`` in all to deliver, a regular file is
    read as usual."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ConfigInvalid([f"{display}: config file not found"]) from None
    except (OSError, ValueError) as error:
        raise ConfigInvalid([f"{display}: cannot read config: {_one_line(error)}"]) from None
    chunks: list[bytes] = []
    size = 0
    try:
        stream = not stat.S_ISREG(os.fstat(fd).st_mode)
        if not stream:
            os.set_blocking(fd, True)
        poller = select.poll()  # not select(): it refuses descriptors past FD_SETSIZE
        poller.register(fd, select.POLLIN)
        deadline = time.monotonic() + STREAM_WAIT_S
        while size <= MAX_CONFIG_BYTES:
            if stream:
                remaining_ms = int((deadline - time.monotonic()) * 1000)
                if remaining_ms <= 0 or not poller.poll(remaining_ms):
                    raise ConfigInvalid(
                        [f"{display}: cannot read config: no end of data within {STREAM_WAIT_S:g}s"]
                    )
            try:
                chunk = os.read(fd, MAX_CONFIG_BYTES + 1 - size)
            except BlockingIOError:
                continue
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise ConfigInvalid([f"{display}: cannot read config: {_one_line(error)}"]) from None
    finally:
        os.close(fd)
    if size > MAX_CONFIG_BYTES:
        raise ConfigInvalid(
            [f"{display}:1: config file is larger than {MAX_CONFIG_BYTES // 1024} KiB"]
        )
    return b"".join(chunks)


def _one_line(error: BaseException) -> str:
    return _printable(getattr(error, "strerror", None) or str(error) or type(error).__name__)


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
        raise ConfigInvalid([f"{display}:{line}: invalid TOML: {_printable(cause)}"]) from None
    except RecursionError:
        raise ConfigInvalid([f"{display}:1: invalid TOML: nested too deeply"]) from None
    except ValueError:
        # tomllib lets int()'s digit limit (4300 digits) escape as a plain ValueError.
        raise ConfigInvalid(
            [f"{display}:{_long_number_line(text)}: invalid TOML: number too long"]
        ) from None
    errors = _Errors(display, LineIndex(text))
    base_dir = (path.parent if path is not None else Path.cwd()).absolute()
    config = _build(data, errors, base_dir, env)
    if not errors.items and config is not None:
        from console.core.config.deploy_checks import check_with_engines

        check_with_engines(config, errors.add)
    if errors.items or config is None:
        raise ConfigInvalid(errors.items or [f"{display}: invalid config"])
    return config


def _long_number_line(text: str) -> int:
    match = re.search(r"[0-9_]{4000,}", text)
    return text.count("\n", 0, match.start()) + 1 if match else 1


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
    flags_raw = root.checked("flags_path", "flags.toml", check_file_path)
    state_raw = root.checked("state_path", None, check_file_path)
    state_url = root.checked("state_url", None, check_state_url)
    lease_s = root.number(
        "lock_lease_s", 30.0, MIN_LOCK_LEASE_S, MAX_LOCK_LEASE_S, low_inclusive=True
    )
    keymap_table = _Table(
        root.raw("keymap") if root.raw("keymap") is not _MISSING else {}, "keymap", errors
    )
    keymap = {k: v for k, v in keymap_table.data.items() if isinstance(v, str)}
    for key, value in keymap_table.data.items():
        keymap_table.seen.add(key)
        if not isinstance(value, str):
            errors.add(f"keymap.{key}", f"expected a string of keys, got {_type_name(value)}")
    root.finish()
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
        lock_lease_s=lease_s or 30.0,
        keymap=keymap,
        state_url=state_url,
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
        if key == "hosts" and len(name) > MAX_HOST_NAME_CHARS:
            errors.add(
                path,
                f"host names are at most {MAX_HOST_NAME_CHARS} characters "
                '(the load balancer names backends "<host>-canary")',
            )
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
            match = _SSH_RE.fullmatch(address)
            if not match:
                errors.add(
                    table.sub("address"),
                    f'invalid address {address!r}: expected "ssh://user@host:port" or "local"'
                    + (" (user: [a-z_][a-z0-9_.-]{0,31})" if address.startswith("ssh://") else ""),
                )
            else:
                port = int(match.group("port") or 22)
                host_error = check_address(match.group("host")) or check_port(port)
                if host_error:
                    errors.add(table.sub("address"), host_error)
                else:
                    ssh = SshEndpoint(match.group("user"), match.group("host"), port)
        socket_path = table.checked("docker_socket", "/var/run/docker.sock", check_socket_path)
        known_hosts = table.checked("known_hosts", None, check_file_path)
        identity = table.checked("identity_file", None, check_file_path)
        publish = table.checked("publish_address", "127.0.0.1", check_publish_address)
        timeout_s = table.seconds("connect_timeout_s", 10.0, MAX_CONNECT_TIMEOUT_S)
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
            connect_timeout_s=timeout_s or 10.0,
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
        config_dir = table.checked("config_dir", default_dir, check_file_path) or default_dir
        main_config = table.checked("main_config", default_main, check_file_path) or default_main
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
        stats = table.checked("stats_socket", None, check_file_path)
        master = table.checked("master_socket", None, check_file_path)
        runtime = table.get("use_runtime_api", bool, True)
        if (
            kind == "haproxy"
            and not reload_cmd
            and master is None
            and "master_socket" not in table.data
        ):
            # The HAProxy writer reloads through one or the other.
            errors.add(table.path, "haproxy needs master_socket or reload_command")
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
    url = table.checked("prometheus_url", None, check_http_url)
    interval = table.seconds("scrape_interval_s", 5.0, MAX_TIMEOUT_S)
    timeout = table.seconds("query_timeout_s", 5.0, MAX_CONNECT_TIMEOUT_S)
    table.finish()
    return MetricsConfig(url or None, interval or 5.0, timeout or 5.0)


def _read_templates(root: _Table, errors: _Errors) -> dict[str, Any]:
    from console.core.errors import ShipdeckError

    template_type: type[AnalysisTemplate] | None
    try:
        from console.core.judge.template import AnalysisTemplate

        template_type = AnalysisTemplate
    except ImportError:  # the judge package is optional while it is being built
        template_type = None
    templates: dict[str, Any] = {}
    for name, table in _named_tables(root, "analysis", errors):
        if not table.ok:
            continue
        table.seen.update(table.data)
        if not _analysis_numbers_ok(table):
            continue
        if template_type is None:
            templates[name] = dict(table.data)
            continue
        try:
            templates[name] = template_type.from_mapping(dict(table.data), f"analysis.{name}")
        except ShipdeckError as error:
            # The template reports "analysis.NAME: KEY: problem".
            parts = error.message.split(": ", 2)
            if len(parts) == 3 and parts[1] in table.data:
                errors.add(f"analysis.{name}.{parts[1]}", parts[2])
            else:
                errors.add(f"analysis.{name}", error.message.split(": ", 1)[-1])
    if "default" not in templates and template_type is not None:
        templates["default"] = template_type.from_mapping({}, "analysis.default")
    return templates


def _analysis_numbers_ok(table: _Table) -> bool:
    """Bound what the analysis template does not, before it sees the table.

    The template checks each key's range, but calls ``math.isfinite`` on
    integers (which raises past ~308 digits) and leaves request and sample
    counts unbounded above. Walked without recursion: TOML nests freely.
    """
    ok = True
    pending: list[tuple[str, Any]] = [(table.path, table.data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, dict):
            pending.extend((f"{path}.{k}", v) for k, v in value.items())
        elif isinstance(value, list):
            pending.extend((f"{path}[{i}]", v) for i, v in enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
            table.errors.add(path, "number out of range: expected at most 2^53")
            ok = False
    for key, high in _ANALYSIS_INTEGER_MAX.items():
        value = table.data.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 2**53 >= value > high:
            table.errors.add(table.sub(key), f"expected an integer at most {high}")
            ok = False
    bounds = table.data.get("bounds")
    for name, rule in bounds.items() if isinstance(bounds, dict) else ():
        samples = rule.get("min_samples") if isinstance(rule, dict) else None
        if isinstance(samples, int) and 2**53 >= samples > _BOUND_MIN_SAMPLES_MAX:
            table.errors.add(
                f"{table.sub('bounds')}.{name}.min_samples",
                f"expected an integer at most {_BOUND_MIN_SAMPLES_MAX}",
            )
            ok = False
    return ok


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
            weight = step_table.integer("weight", _MISSING, 1, 100)
            if weight is not None:
                steps.append(CanaryStep(weight_pct=weight))
        elif "pause" in keys:
            if step_table.data.get("pause") == "manual":
                step_table.raw("pause")
                steps.append(CanaryStep(manual_pause=True))
            else:
                seconds = step_table.duration_s("pause", _MISSING, alternative='"manual"')
                if seconds is not None:
                    steps.append(CanaryStep(pause_s=seconds))
        elif "analysis" in keys:
            name = step_table.get("analysis", str)
            duration = step_table.duration_s("duration", "5m")
            if duration is not None and name is not None:
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
        check_path = check.checked("path", _MISSING, check_request_path)
        status = check.get("status", int, 200)
        status_ok = check.check("status", status, check_http_status)
        contains = check.get("contains", str, None)
        check.finish()
        if check_path is not None and status_ok:
            checks.append(SmokeCheck(check_path, status, contains))
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
        image = table.checked("image", _MISSING, check_repository)
        container_port = table.port("container_port", 8000)
        health_path = table.checked("health_path", "/healthz", check_health_path)
        health_timeout = table.seconds("health_timeout_s", 30.0, MAX_TIMEOUT_S)
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
        keep = table.integer("releases_to_keep", 5, 0, MAX_RELEASES_TO_KEEP)
        webhooks = table.string_list("webhooks", [])
        slack = table.string_list("slack_webhooks", [])
        for key, urls in (("webhooks", webhooks), ("slack_webhooks", slack)):
            for index, url in enumerate(urls):
                url_error = check_http_url(url)
                if url_error:
                    errors.add(f"{table.sub(key)}[{index}]", url_error)
        smoke = _read_smoke(table)
        # 0 skips verification (tests and throwaway environments); never longer than a day.
        verify_s = table.duration_s("post_deploy_verify", "30s", MAX_VERIFY_S, allow_zero=True)
        max_error_rate = table.ratio("max_error_rate", 0.05)
        env_table = table.raw("env")
        container_env: dict[str, str] = {}
        if env_table is not _MISSING:
            if not isinstance(env_table, dict):
                errors.add(table.sub("env"), "expected a table of strings")
            else:
                for key, value in env_table.items():
                    if check_env_name(key) or not isinstance(value, str):
                        errors.add(f"{table.sub('env')}.{key}", 'expected NAME = "string"')
                    elif "\0" in value:
                        # A process environment cannot hold NUL; Docker would refuse at start.
                        errors.add(f"{table.sub('env')}.{key}", "value contains a NUL character")
                    else:
                        container_env[key] = value
        schema_label = table.checked("schema_label", "shipdeck.schema", check_label_prefix)
        drill_days = table.number("drill_max_age_days", 7.0, 0.0, MAX_DRILL_AGE_DAYS)
        environments = _read_environments(table, errors, hosts, lbs)
        _check_instance_names(name, table, environments)
        table.finish()
        services[name] = ServiceConfig(
            name=name,
            image=image or "",
            container_port=container_port or 8000,
            health_path=health_path or "/healthz",
            health_timeout_s=health_timeout or 30.0,
            strategy=strategy if strategy in ("blue-green", "canary") else "blue-green",
            canary_steps=steps,
            analysis=analysis or "default",
            environments=environments,
            releases_to_keep=5 if keep is None else keep,
            webhooks=tuple(webhooks),
            slack_webhooks=tuple(slack),
            smoke=smoke,
            post_deploy_verify_s=30.0 if verify_s is None else verify_s,
            max_error_rate=0.05 if max_error_rate is None else max_error_rate,
            env=container_env,
            schema_label=schema_label or "shipdeck.schema",
            drill_max_age_days=drill_days or 7.0,
        )
    return services


def _check_instance_names(
    name: str, table: _Table, environments: dict[str, EnvironmentTarget]
) -> None:
    """Containers are named after ``<service>`` (production) or
    ``<service>-<environment>``; the Docker engine refuses longer than 40
    characters or a trailing hyphen, so refuse it here instead of mid-deploy."""
    for env_name in environments:
        instance = name if env_name == "production" else f"{name}-{env_name}"
        if len(instance) > MAX_INSTANCE_NAME_CHARS or name.endswith("-"):
            table.errors.add(
                table.path,
                f'container name "{instance}" (service-environment) must be at most '
                f'{MAX_INSTANCE_NAME_CHARS} characters and not end in "-"',
            )
            return


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
        if base_port is not None and (check_port(base_port) or base_port > 65535 - 2):
            errors.add(
                env.sub("base_port"),
                "invalid base_port: expected an integer 1-65533 "
                "(blue, green and canary use base..base+2)",
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
