"""The safe install pipeline both LB writers share.

One apply: validate the state → render → refuse if no backend that would take
traffic answers → (HAProxy, weights only) runtime API, else write the file
atomically beside the target → validate with the LB's own checker → graceful
reload → verify over HTTP that the LB answers and the expected release serves.
A failing checker or reload puts the previous file back and reloads nothing; a
failing verification puts the previous file back and reloads it. The config
that was live before a successful change is kept as ``<file>.bak``.

Each managed file starts with ``# shipdeck-…`` comment lines describing the
state it renders (all values validated), so ``observed_state``, ``probe`` and
``restore_backup`` can read back what is installed without parsing nginx or
HAProxy syntax.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from engines.errors import EngineOperationFailed, InvalidTargetInput, TargetUnreachable
from engines.lb.model import (
    ApplyResult,
    Backend,
    LbSettings,
    ObservedBackend,
    TrafficState,
    check_name,
)
from engines.lb.transport import Transport

RELEASE_HEADER = "X-Shipdeck-Release"
VERIFY_STREAK = 3  # consecutive fresh-connection answers: no old LB worker still accepting
VERIFY_POLL_INTERVAL_S = 0.003
PREFLIGHT_TIMEOUT_S = 3.0
MAX_CHECKER_MESSAGE_CHARS = 2000
STATE_MARK = "# shipdeck-state"
BACKEND_MARK = "# shipdeck-backend"


def metadata_lines(state: TrafficState) -> list[str]:
    """Comment lines that describe ``state`` exactly (every value already validated)."""
    lines = [
        f"# Managed by shipdeck for service {state.service}: rewritten on every apply, do not edit.",
        f"{STATE_MARK} service={state.service} listen_address={state.listen_address}"
        f" listen_port={state.listen_port} preview_port={state.preview_port}"
        f" preview_color={state.preview_color or '-'}",
    ]
    for b in state.backends:
        lines.append(
            f"{BACKEND_MARK} name={b.name} address={b.address} port={b.port} release={b.release}"
            f" color={b.color} track={b.track or '-'} weight={b.weight_pct}"
        )
    return lines


def _fields(line: str, mark: str) -> dict[str, str]:
    return dict(token.partition("=")[::2] for token in line[len(mark) :].split())


def _port(value: str | None) -> int | str | None:
    return int(value) if value is not None and value.isdigit() and len(value) <= 5 else value


def parse_metadata(text: str | None) -> TrafficState | None:
    """The state a managed file renders, or None if it is not one of ours (or is damaged)."""
    if not text:
        return None
    head: dict[str, str] | None = None
    backends: list[Backend] = []
    for line in text.splitlines():
        if line.startswith(STATE_MARK + " "):
            head = _fields(line, STATE_MARK)
        elif line.startswith(BACKEND_MARK + " "):
            f = _fields(line, BACKEND_MARK)
            backends.append(
                Backend(
                    name=f.get("name", ""),
                    address=f.get("address", ""),
                    port=_port(f.get("port")),  # type: ignore[arg-type]
                    release=f.get("release", ""),
                    color=f.get("color", ""),
                    weight_pct=_port(f.get("weight")),  # type: ignore[arg-type]
                    track="" if f.get("track") == "-" else f.get("track", ""),
                )
            )
    if head is None:
        return None
    state = TrafficState(
        service=head.get("service", ""),
        listen_address=head.get("listen_address", ""),
        listen_port=_port(head.get("listen_port")),  # type: ignore[arg-type]
        preview_port=_port(head.get("preview_port")),  # type: ignore[arg-type]
        backends=tuple(backends),
        preview_color=None if head.get("preview_color") == "-" else head.get("preview_color"),
    )
    try:
        state.validate()
    except InvalidTargetInput:
        return None
    return state


def live_set(state: TrafficState | None) -> frozenset[Backend]:
    return frozenset(state.live_backends) if state is not None else frozenset()


class ManagedConfigWriter(ABC):
    """One LB, one file per service under ``settings.config_dir``. Changes on one
    writer are serialised (one checker + reload at a time for the whole LB)."""

    suffix: ClassVar[str]

    def __init__(self, settings: LbSettings, transport: Transport) -> None:
        settings.validate()
        self.settings = settings
        self.transport = transport
        self._lock = asyncio.Lock()

    # ---- rendering (per LB kind) -------------------------------------------------

    @abstractmethod
    def render(self, state: TrafficState) -> str:
        """The whole managed file for ``state`` (validated first)."""

    @abstractmethod
    async def _reload(self) -> None:
        """Make the files on disk live gracefully; raise EngineOperationFailed if refused."""

    async def _try_runtime(
        self,
        state: TrafficState,
        text: str,
        previous: TrafficState | None,
        previous_text: str | None,
    ) -> bool:
        """Make ``state`` live without a reload if possible; False if not applicable."""
        return False

    async def _restore_runtime(self, previous: TrafficState, state: TrafficState) -> None:
        """Undo a runtime change (only called after ``_try_runtime`` returned True)."""
        raise NotImplementedError

    async def _backend_views(self, state: TrafficState) -> dict[str, tuple[int, bool | None]]:
        """Per backend name: (weight as the LB has it, up?); default: the file's view."""
        return {b.name: (b.weight_pct, None) for b in state.backends}

    # ---- paths ---------------------------------------------------------------------

    def config_path(self, service: str) -> Path:
        check_name(self.settings.name, "service name", service)
        return Path(self.settings.config_dir) / f"shipdeck-{service}{self.suffix}"

    def backup_path(self, service: str) -> Path:
        path = self.config_path(service)
        return path.with_name(path.name + ".bak")

    # ---- public API ----------------------------------------------------------------

    async def current_config(self, service: str) -> str | None:
        data = await self.transport.read_file(self.config_path(service))
        return data.decode("utf-8", errors="replace") if data is not None else None

    async def apply(self, state: TrafficState) -> ApplyResult:
        """Make ``state`` live safely (see the module docstring); raises
        InvalidTargetInput before touching anything if the state is unsafe."""
        started = time.monotonic()
        state.validate()
        text = self.render(state)
        async with self._lock:
            previous_text = await self.current_config(state.service)
            if previous_text == text:
                return ApplyResult("unchanged", time.monotonic() - started, None, False)
            await self._require_live_backend(state)
            method, release = await self._transition(state, text, previous_text)
        return ApplyResult(method, time.monotonic() - started, release, True)

    async def restore_backup(self, service: str) -> None:
        """Put the config that was live before the last change back (and keep the
        current one as the new backup, so restoring twice flips back)."""
        async with self._lock:
            backup = await self.transport.read_file(self.backup_path(service))
            if backup is None:
                raise EngineOperationFailed(
                    self.settings.name, f"no backup config for service {service} to restore"
                )
            text = backup.decode("utf-8", errors="replace")
            previous_text = await self.current_config(service)
            if previous_text == text:
                return
            state = parse_metadata(text)
            if state is None or state.service != service:
                raise EngineOperationFailed(
                    self.settings.name,
                    f"backup {self.backup_path(service)} is not a shipdeck file for {service}",
                )
            await self._require_live_backend(state)
            await self._transition(state, text, previous_text)

    async def remove(self, service: str) -> None:
        """Delete the service's file (validate + reload); the old file becomes the backup."""
        async with self._lock:
            path = self.config_path(service)
            previous_text = await self.current_config(service)
            if previous_text is None:
                return
            await self._install(path, None, previous_text)
            await self.transport.write_file_atomic(
                self.backup_path(service), previous_text.encode()
            )

    async def observed_state(self, service: str) -> list[ObservedBackend]:
        state = parse_metadata(await self.current_config(service))
        if state is None:
            return []
        views = await self._backend_views(state)
        observed = []
        for b in state.backends:
            weight, up = views.get(b.name, (b.weight_pct, None))
            observed.append(
                ObservedBackend(b.name, b.address, b.port, b.release, b.color, weight, up)
            )
        return observed

    async def probe(self, service: str, via: str = "main") -> str | None:
        """Release named by the LB's answer to GET / on the main or preview listener
        (None if nothing is installed or the answer names none). TargetUnreachable
        if the LB does not answer."""
        if via not in ("main", "preview"):
            raise InvalidTargetInput(self.settings.name, f"via {via!r} must be main or preview")
        state = parse_metadata(await self.current_config(service))
        if state is None:
            return None
        port = state.listen_port if via == "main" else state.preview_port
        _, headers = await self.transport.http_get(
            self.settings.verify_address, port, "/", min(5.0, self.settings.timeout_s)
        )
        return headers.get(RELEASE_HEADER.lower()) or None

    # ---- the pipeline --------------------------------------------------------------

    async def _transition(
        self, state: TrafficState, text: str, previous_text: str | None
    ) -> tuple[str, str | None]:
        """Runtime change or install+reload, then verify; undo on failed verification."""
        service = state.service
        path = self.config_path(service)
        previous = parse_metadata(previous_text)
        expect = state.sole_release
        weight0_only = previous is not None and live_set(previous) == live_set(state)
        if await self._try_runtime(state, text, previous, previous_text):
            method = "runtime_api"
            try:
                seen = await self._verify(state, expect)
            except EngineOperationFailed:
                assert previous is not None
                await self._restore_runtime(previous, state)
                raise
            try:
                await self.transport.write_file_atomic(path, text.encode())
            except (EngineOperationFailed, TargetUnreachable):
                await self._restore_runtime(previous, state)  # type: ignore[arg-type]
                raise
        else:
            method = "reload"
            await self._install(path, text, previous_text)
            try:
                seen = await self._verify(state, expect)
            except EngineOperationFailed as failure:
                await self._roll_back_after_verify(path, previous_text, failure)
                raise
        if previous_text is not None:
            await self.transport.write_file_atomic(
                self.backup_path(service), previous_text.encode()
            )
        return method, (None if weight0_only else seen)

    async def _install(self, path: Path, text: str | None, previous_text: str | None) -> None:
        """Put ``text`` (None: no file) in place, check it, reload; on any failure the
        previous file goes back and nothing is reloaded."""
        if text is None:
            await self.transport.remove(path)
        else:
            await self.transport.write_file_atomic(path, text.encode())
        try:
            await self._check_config()
            await self._reload()
        except BaseException:
            await self._put_back(path, previous_text)
            raise

    async def _put_back(self, path: Path, previous_text: str | None) -> None:
        if previous_text is None:
            await self.transport.remove(path)
        else:
            await self.transport.write_file_atomic(path, previous_text.encode())

    async def _roll_back_after_verify(
        self, path: Path, previous_text: str | None, failure: EngineOperationFailed
    ) -> None:
        """The new config is live but the wrong release (or nothing) answers: go back."""
        try:
            await self._put_back(path, previous_text)
            await self._reload()
        except (EngineOperationFailed, TargetUnreachable) as error:
            failure.cause += f"; rolling back to the previous config also failed: {error}"
            failure.args = (f"{failure.target}: {failure.cause}",)

    async def _check_config(self) -> None:
        """Run the LB's own checker on the whole config as installed."""
        argv = list(self.settings.validate_argv)
        status, out, err = await self.transport.run(argv, self.settings.timeout_s)
        if status != 0:
            message = (err.strip() or out.strip() or f"exit status {status}")[
                -MAX_CHECKER_MESSAGE_CHARS:
            ]
            raise EngineOperationFailed(
                self.settings.name, f"{self.settings.kind} rejected the config: {message}"
            )

    async def _require_live_backend(self, state: TrafficState) -> None:
        """Refuse (before writing anything) a state in which no backend that would
        take traffic answers its health path with 2xx/3xx."""
        live = state.live_backends
        results = await asyncio.gather(*(self._backend_answers(b) for b in live))
        if not any(ok for ok, _ in results):
            details = "; ".join(
                f"{b.name} ({b.endpoint}): {why}" for b, (_, why) in zip(live, results, strict=True)
            )
            raise EngineOperationFailed(
                self.settings.name,
                f"refusing to route {state.service} to no live backend: {details}",
            )

    async def _backend_answers(self, backend: Backend) -> tuple[bool, str]:
        try:
            status, _ = await self.transport.http_get(
                backend.address,
                backend.port,
                self.settings.health_path,
                min(PREFLIGHT_TIMEOUT_S, self.settings.timeout_s),
            )
        except TargetUnreachable as error:
            return False, error.cause
        return 200 <= status < 400, f"status {status}"

    async def _verify(self, state: TrafficState, expect: str | None) -> str | None:
        """Poll GET / on fresh connections until ``VERIFY_STREAK`` answers in a row are
        2xx (and name ``expect`` when one release takes all traffic)."""
        deadline = time.monotonic() + self.settings.timeout_s
        streak = 0
        last = "no answer yet"
        while True:
            remaining = deadline - time.monotonic()
            try:
                status, headers = await self.transport.http_get(
                    self.settings.verify_address,
                    state.listen_port,
                    "/",
                    max(0.05, min(2.0, remaining)),
                )
                seen = headers.get(RELEASE_HEADER.lower())
                if 200 <= status < 300 and (expect is None or seen == expect):
                    streak += 1
                    if streak >= VERIFY_STREAK:
                        return seen
                    continue
                last = f"status {status} from release {seen!r}"
            except TargetUnreachable as error:
                last = error.cause
            streak = 0
            if time.monotonic() >= deadline:
                wanted = f"release {expect!r}" if expect else "a 2xx answer"
                raise EngineOperationFailed(
                    self.settings.name,
                    f"{state.service}: expected {wanted} on"
                    f" {self.settings.verify_address}:{state.listen_port} within"
                    f" {self.settings.timeout_s:g}s, last saw {last}",
                )
            await asyncio.sleep(VERIFY_POLL_INTERVAL_S)
