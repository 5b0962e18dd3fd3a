"""nginx: one include file per service, every change a checked graceful reload.

Why the file looks like this:

- One weighted upstream per service. A weight-0 backend stays in it as
  ``backup`` (nginx has no ``weight=0``): it takes traffic only if every live
  server fails, and flipping back is one reload away.
- The preview listener has its own upstream with only the idle color; with no
  idle color it answers 503 rather than reach a live release.
- ``$upstream_addr`` names the server that answered (the last one after a
  retry); a per-service ``map`` turns it into ``X-Shipdeck-Release`` and
  ``X-Shipdeck-Backend``. ``X-Shipdeck-Config`` carries the state's generation
  so verification sees the instant the new config answers.
- ``proxy_next_upstream error timeout http_502 http_503`` with bounded tries
  and upstream keep-alive: a backend closing a connection costs a retry, not an
  error (nginx never retries non-idempotent requests this way).
- No ``reuseport``: with it, connections queued on an old worker are dropped on
  reload.

Validation is staged: a copy of the main config beside it, whose ``include``
of the managed directory lists the files explicitly with the candidate in
place of the installed file, goes through ``nginx -t``. Nothing live changes
until that passes.
"""

from __future__ import annotations

import asyncio
import fnmatch
import re
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from engines.errors import EngineError, EngineOperationFailed, InvalidTargetInput
from engines.lb.model import Backend, LbSettings, ObservedBackend, TrafficState
from engines.lb.transport import Transport
from engines.lb.writer import (
    LbWriter,
    Validation,
    checker_message,
    replace_argv_path,
    safe_file_name,
    state_line,
)

MAX_FAILS = 3
FAIL_TIMEOUT_S = 10
UPSTREAM_KEEPALIVE = 32
UPSTREAM_KEEPALIVE_TIMEOUT_S = 4
NEXT_UPSTREAM_TRIES = 3
CONNECT_TIMEOUT_S = 2
READ_TIMEOUT_S = 60
_INCLUDE = re.compile(r"\binclude\s+([\"']?)([^\"';\s]+)\1\s*;")
_PID = re.compile(r"^\s*pid\s+([^\s;]+)\s*;", re.MULTILINE)
DEFAULT_PID_FILE = "/run/nginx.pid"
WORKER_TITLE = "nginx: worker process"
MASTER_SHUTDOWN_DELAY_S = 0.11  # ngx_master_process_cycle: ngx_msleep(100) before QUIT
SETTLE_POLL_S = 0.005
_ERROR_LOG = re.compile(r"^\s*error_log\s+([^\s;]+)", re.MULTILINE)
_UPSTREAM_SERVER = re.compile(r"^\s*server\s+(\S+):(\d+)((?:\s+[a-z_]+(?:=\S+)?)*)\s*;", re.M)


def upstream_name(service: str, preview: bool = False) -> str:
    """``_`` never occurs in a service name, so these cannot collide."""
    return f"shipdeck_{service}{'_preview' if preview else ''}"


def _variable(service: str, what: str) -> str:
    """nginx variables allow [A-Za-z0-9_]: '-' becomes '_' (names have no '_')."""
    return f"shipdeck_{service.replace('-', '_')}_{what}"


def _map_key(backend: Backend, state: TrafficState) -> str:
    """A regex on the last entry of ``$upstream_addr`` ("a:1, b:2" after a
    retry). nginx shows the resolved IP there, so a host-name backend is keyed
    on its port alone, which must then be unique within the service."""
    if backend.address.replace(".", "").isdigit():
        return "~(^|\\s)" + backend.address.replace(".", "\\.") + f":{backend.port}$"
    sharing = [b.name for b in state.backends if b.port == backend.port]
    if len(sharing) > 1:
        raise InvalidTargetInput(
            state.service,
            f"backends {', '.join(sharing)} share port {backend.port}; with a host name "
            "address nginx can only tell which release answered by a unique port",
        )
    return f"~:{backend.port}$"


def _maps(state: TrafficState) -> list[str]:
    ordered = sorted(state.backends, key=lambda b: not b.address.replace(".", "").isdigit())
    lines: list[str] = []
    columns: tuple[tuple[str, Callable[[Backend], str]], ...] = (
        ("release", lambda b: b.release),
        ("backend", lambda b: b.name),
    )
    for what, value in columns:
        lines += [f"map $upstream_addr ${_variable(state.service, what)} {{", '    default "";']
        lines += [f'    "{_map_key(b, state)}" "{value(b)}";' for b in ordered]
        lines.append("}")
    return lines


def _server_line(backend: Backend, weight: int) -> str:
    """Weight 0 becomes ``backup`` (nginx has no weight 0); 1 is the default."""
    tail = " backup" if weight == 0 else (f" weight={weight}" if weight > 1 else "")
    return (
        f"    server {backend.endpoint}{tail} max_fails={MAX_FAILS} fail_timeout={FAIL_TIMEOUT_S}s;"
        f"  # {backend.name}"
    )


def _upstream(name: str, servers: list[str], keepalive: int) -> list[str]:
    return [
        f"upstream {name} {{",
        *servers,
        f"    keepalive {keepalive};",
        f"    keepalive_timeout {UPSTREAM_KEEPALIVE_TIMEOUT_S}s;",
        "}",
    ]


def _location(state: TrafficState, upstream: str | None) -> list[str]:
    generation = state.generation()
    headers = [
        f"        add_header X-Shipdeck-Release ${_variable(state.service, 'release')} always;",
        f"        add_header X-Shipdeck-Backend ${_variable(state.service, 'backend')} always;",
        f"        add_header X-Shipdeck-Config {generation} always;",
    ]
    if upstream is None:
        return ["    location / {", *headers[2:], "        return 503;", "    }"]
    return [
        "    location / {",
        f"        proxy_pass http://{upstream};",
        "        proxy_http_version 1.1;",
        '        proxy_set_header Connection "";',
        "        proxy_set_header Host $http_host;",
        "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        f"        proxy_connect_timeout {CONNECT_TIMEOUT_S}s;",
        f"        proxy_read_timeout {READ_TIMEOUT_S}s;",
        "        proxy_next_upstream error timeout http_502 http_503;",
        f"        proxy_next_upstream_tries {NEXT_UPSTREAM_TRIES};",
        f"        proxy_next_upstream_timeout {READ_TIMEOUT_S}s;",
        "        proxy_hide_header X-Shipdeck-Release;",
        "        proxy_hide_header X-Shipdeck-Backend;",
        "        proxy_hide_header X-Shipdeck-Config;",
        *headers,
        "    }",
    ]


def render_nginx(state: TrafficState) -> str:
    """The include file (http context) for one validated service state."""
    service = state.service
    main = [_server_line(b, b.weight_pct) for b in state.backends]
    lines = [
        state_line(state),
        f"# Managed by shipdeck for service {service}; rewritten on every traffic change.",
        *_maps(state),
        *_upstream(upstream_name(service), main, UPSTREAM_KEEPALIVE),
    ]
    preview = state.preview_backends
    if preview:
        servers = [_server_line(b, 1) for b in preview]
        lines += _upstream(upstream_name(service, True), servers, UPSTREAM_KEEPALIVE // 4)
    lines += ["server {", f"    listen {state.listen_address}:{state.listen_port};"]
    lines += [*_location(state, upstream_name(service)), "}"]
    lines += ["server {", f"    listen {state.listen_address}:{state.preview_port};"]
    lines += [*_location(state, upstream_name(service, True) if preview else None), "}"]
    return "\n".join(lines) + "\n"


class NginxWriter(LbWriter):
    """nginx including ``<config_dir>/*.conf`` from its main config."""

    kind = "nginx"
    extension = "conf"

    def __init__(self, settings: LbSettings, transport: Transport) -> None:
        super().__init__(settings, transport)
        if not settings.reload_argv:
            raise InvalidTargetInput(settings.name, "nginx needs a reload command")

    def _render(self, state: TrafficState) -> str:
        return render_nginx(state)

    async def _validation(self, target: Path, candidate: Path) -> Validation:
        """``nginx -t`` on a copy of the main config that includes the managed
        files explicitly, the candidate in place of ``target``."""
        main = Path(self.settings.main_config)
        staged_main = main.with_name(f".shipdeck-validate-{target.stem}.nginx")
        argv = replace_argv_path(self.settings.validate_argv, main, [str(staged_main)])
        if argv is None:  # a wrapper we cannot redirect: check in place
            return Validation(list(self.settings.validate_argv), staged=False)
        raw = await self.transport.read_file(main)
        if raw is None:
            raise EngineOperationFailed(self.name, f"main config {main} does not exist")
        text = await self._staged_main_text(raw.decode(), main, target, candidate)
        await self.transport.write_file_atomic(staged_main, text.encode())
        return Validation(argv, staged=True, scratch=(staged_main,))

    async def _staged_main_text(self, text: str, main: Path, target: Path, candidate: Path) -> str:
        config_dir = PurePosixPath(str(self.settings.config_dir))
        listing: list[str] | None = None
        found = False
        pieces: list[str] = []
        position = 0
        for match in _INCLUDE.finditer(text):
            argument = PurePosixPath(match.group(2))
            resolved = argument if argument.is_absolute() else PurePosixPath(main.parent) / argument
            if resolved.parent != config_dir:
                continue
            found = True
            if listing is None:
                listing = await self.transport.list_dir(Path(str(config_dir)))
            names = sorted(
                {n for n in listing if not n.startswith(".") and fnmatch.fnmatch(n, resolved.name)}
                | ({target.name} if fnmatch.fnmatch(target.name, resolved.name) else set())
            )
            includes = []
            for name in names:
                if not safe_file_name(name):
                    raise EngineOperationFailed(
                        self.name, f"unexpected file name {name!r} in {config_dir}"
                    )
                path = candidate if name == target.name else config_dir / name
                includes.append(f"include {path};")
            pieces += [text[position : match.start()], " ".join(includes)]
            position = match.end()
        if not found:
            raise EngineOperationFailed(
                self.name,
                f"{main} does not include {config_dir}/*.conf: shipdeck's files would never load",
            )
        return "".join([*pieces, text[position:]])

    async def _reload(self) -> frozenset[int] | None:
        workers = await self._workers()
        rc, stdout, stderr = await self.transport.run(
            list(self.settings.reload_argv), self.settings.timeout_s
        )
        if rc != 0:
            raise EngineOperationFailed(self.name, checker_message(rc, stdout, stderr))
        return None if workers is None else frozenset(workers)

    async def _settle(self, before: object) -> None:
        """nginx's master starts the new workers, sleeps 100 ms, and only then
        tells the old ones to quit: until then they keep answering on their
        keep-alive connections with the old config. Wait until every old
        worker is gone or shutting down (it then closes its idle connections,
        so no new request reaches it)."""
        if not isinstance(before, frozenset):
            await asyncio.sleep(MASTER_SHUTDOWN_DELAY_S)  # cannot look: wait it out
            return
        deadline = time.monotonic() + self.settings.verify_timeout_s
        while time.monotonic() < deadline:
            workers = await self._workers()
            if workers is None or not any(
                title == WORKER_TITLE for pid, title in workers.items() if pid in before
            ):
                return
            await asyncio.sleep(SETTLE_POLL_S)

    async def _workers(self) -> dict[int, str] | None:
        """The master's children and their titles, from /proc on the LB host
        (None if that cannot be read: not Linux, no pid file)."""
        try:
            main = await self.transport.read_file(Path(self.settings.main_config))
            match = _PID.search(main.decode()) if main else None
            pid_file = Path(match.group(1) if match else DEFAULT_PID_FILE)
            raw_pid = await self.transport.read_file(pid_file)
            if raw_pid is None or not raw_pid.strip().isdigit():
                return None
            master = int(raw_pid)
            children = await self.transport.read_file(
                Path(f"/proc/{master}/task/{master}/children")
            )
            if not children or not children.split():
                return None  # a running master always has workers: we cannot see them
            titles = {}
            for pid in (int(p) for p in children.split()):
                cmdline = await self.transport.read_file(Path(f"/proc/{pid}/cmdline"))
                titles[pid] = (cmdline or b"").replace(b"\0", b" ").decode().strip()
            return titles
        except (EngineError, ValueError):
            return None

    async def _diagnose(self) -> str:
        """The last ``[emerg]`` in nginx's error log: why a reload did not load."""
        try:
            raw = await self.transport.read_file(Path(self.settings.main_config))
            match = _ERROR_LOG.search(raw.decode()) if raw else None
            if match is None or match.group(1) in ("stderr", "off") or ":" in match.group(1):
                return ""
            log = await self.transport.read_file(Path(match.group(1)))
        except EngineError:
            return ""
        lines = [ln for ln in (log or b"").decode(errors="replace").splitlines() if "[emerg]" in ln]
        return f"nginx error log: {lines[-1].strip()[:300]}" if lines else ""

    async def observed_state(self, service: str) -> tuple[ObservedBackend, ...]:
        """Weights as the installed (and, after a verified apply, loaded)
        upstream has them; nginx OSS cannot report health, so ``up`` is None."""
        text = await self.current_config(service) or ""
        state = await self._require_state(service)
        block = re.search(r"upstream " + upstream_name(service) + r" \{(.*?)\n\}", text, re.DOTALL)
        weights: dict[str, int] = {}
        for match in _UPSTREAM_SERVER.finditer(block.group(1) if block else ""):
            flags = match.group(3).split()
            weight = 1
            for flag in flags:
                if flag.startswith("weight="):
                    weight = int(flag.partition("=")[2])
            if "backup" in flags or "down" in flags:
                weight = 0
            weights[f"{match.group(1)}:{match.group(2)}"] = weight
        return tuple(
            ObservedBackend(
                b.name, b.address, b.port, b.release, b.color, weights.get(b.endpoint, 0), None
            )
            for b in state.backends
        )
