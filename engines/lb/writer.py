"""The one install pipeline every LB writer goes through.

render → write a candidate beside the target → validate the FULL config with
the LB's own checker (the candidate staged in place of the installed file) →
atomic rename → graceful reload → verify (a fresh request is answered by the
new config generation and an expected release). If validation fails, nothing
live was touched. If the reload fails, the previous file is put back and
nothing is reloaded. If the new config loaded but does not serve, the previous
file is put back and reloaded. The file replaced by a successful apply is kept
as ``<file>.bak`` for ``restore_backup``.

This module must never reload an LB with a config its checker has not passed,
and never leave a file installed that differs from what the LB runs.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import ClassVar

from engines.errors import (
    EngineError,
    EngineOperationFailed,
    InvalidTargetInput,
    TargetUnreachable,
)
from engines.lb.model import (
    ApplyResult,
    LbSettings,
    NoHealthyBackend,
    ObservedBackend,
    ProbeResult,
    TrafficState,
)
from engines.lb.transport import Transport

STATE_PREFIX = "# shipdeck-state: "
RELEASE_HEADER = "x-shipdeck-release"
BACKEND_HEADER = "x-shipdeck-backend"
GENERATION_HEADER = "x-shipdeck-config"
VERIFY_POLL_S = 0.005
SAFE_FILE_NAME = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+@-")


def candidate_path(target: Path) -> Path:
    """Where a new config waits for its checker: beside the target, hidden,
    with a suffix no include glob (``*.conf``, HAProxy's ``*.cfg``) matches."""
    return target.with_name(f".{target.name}.next")


def backup_path(target: Path) -> Path:
    """The config a successful apply replaced (not matched by include globs)."""
    return target.with_name(f"{target.name}.bak")


def state_line(state: TrafficState) -> str:
    """The first line of every managed file: the state it was rendered from,
    as JSON in a comment (validated fields only, so no newline can occur)."""
    return STATE_PREFIX + json.dumps(state.to_record(), sort_keys=True, separators=(",", ":"))


def state_from_text(text: str) -> TrafficState | None:
    """The state recorded in a managed file, re-validated; None if the file
    carries no shipdeck state line."""
    for line in text.splitlines()[:5]:
        if line.startswith(STATE_PREFIX):
            try:
                record = json.loads(line[len(STATE_PREFIX) :])
            except ValueError:
                raise InvalidTargetInput("installed config", "unreadable state line") from None
            return TrafficState.from_record(record)
    return None


def checker_message(rc: int, stdout: str, stderr: str) -> str:
    """The first line of a checker's output that says what is wrong (nginx
    ``[emerg]``, HAProxy ``[ALERT]``), falling back to its first line."""
    lines = [line.strip() for line in (stderr + "\n" + stdout).splitlines() if line.strip()]
    for marker in ("[emerg]", "[ALERT]", "[alert]", "[crit]", "[error]", "error", "failed"):
        for line in lines:
            if marker in line and "test failed" not in line and "Fatal errors" not in line:
                return line[:400]
    return lines[0][:400] if lines else f"exited with status {rc}"


def safe_file_name(name: str) -> bool:
    return bool(name) and set(name) <= SAFE_FILE_NAME


@dataclass(frozen=True)
class Expectation:
    """What a verifying probe must see once a state is live."""

    generation: str
    main_port: int
    preview_port: int
    main_releases: frozenset[str]
    preview_releases: frozenset[str]

    @classmethod
    def of(cls, state: TrafficState) -> Expectation:
        return cls(
            generation=state.generation(),
            main_port=state.listen_port,
            preview_port=state.preview_port,
            main_releases=frozenset(b.release for b in state.live_backends),
            preview_releases=frozenset(b.release for b in state.preview_backends),
        )


class VerifyFailed(EngineOperationFailed):
    """Verification timed out; ``loaded`` says whether the new generation was
    ever seen (so whether the LB must be reloaded back)."""

    def __init__(self, target: str, cause: str, loaded: bool) -> None:
        super().__init__(target, cause)
        self.loaded = loaded


@dataclass(frozen=True)
class Validation:
    """How to check a candidate: the argv, whether the candidate is staged
    (checked before it replaces anything) and the helper files to remove."""

    argv: list[str]
    staged: bool
    scratch: tuple[Path, ...] = ()


class LbWriter(abc.ABC):
    """Common interface and install pipeline of the nginx and HAProxy writers.

    One writer per LB instance: its lock serialises every change to that LB,
    so two services' files are never validated against each other's half-made
    state. Services never share a file: each has ``shipdeck-<service>.<ext>``
    in the managed include directory.
    """

    kind: ClassVar[str]
    extension: ClassVar[str]

    def __init__(self, settings: LbSettings, transport: Transport) -> None:
        settings.validate()
        if settings.kind != self.kind:
            raise InvalidTargetInput(settings.name, f"{type(self).__name__} needs kind {self.kind}")
        self.settings = settings
        self.transport = transport
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return f"{self.kind} {self.settings.name}"

    def config_path(self, service: str) -> Path:
        return Path(self.settings.config_dir) / f"shipdeck-{service}.{self.extension}"

    # ------------------------------------------------------------------ public

    def render(self, state: TrafficState) -> str:
        """The complete managed file for ``state`` (validated first: nothing
        unvalidated is ever pasted into a config)."""
        state.validate()
        return self._render(state)

    async def apply(self, state: TrafficState) -> ApplyResult:
        """Make ``state`` live and verified, or raise leaving the LB serving
        what it served before."""
        started = time.monotonic()
        text = self.render(state)
        async with self._lock:
            previous = await self.current_config(state.service)
            if previous == text and await self._is_live(state):
                release = await self._verify_answer(Expectation.of(state), check_generation=False)
                return ApplyResult(
                    "unchanged", time.monotonic() - started, release, False, state.generation()
                )
            method, release = await self._activate(state, text, previous)
            return ApplyResult(
                method, time.monotonic() - started, release, True, state.generation()
            )

    async def restore_backup(self, service: str) -> ApplyResult:
        """Put the config the last successful apply replaced back (validated
        and verified like any apply); the current one becomes the backup, so
        a second restore undoes the first."""
        started = time.monotonic()
        async with self._lock:
            target = self.config_path(service)
            raw = await self.transport.read_file(backup_path(target))
            if raw is None:
                raise EngineOperationFailed(self.name, f"no backup config for service {service}")
            text = raw.decode()
            state = state_from_text(text)
            if state is None or state.service != service:
                raise EngineOperationFailed(self.name, f"{backup_path(target)} is not {service}'s")
            await self._preflight(state)
            previous = await self.current_config(service)
            release = await self._install(state, text, previous, reload=True)
            return ApplyResult(
                "reload", time.monotonic() - started, release, True, state.generation()
            )

    async def current_config(self, service: str) -> str | None:
        raw = await self.transport.read_file(self.config_path(service))
        return None if raw is None else raw.decode("utf-8", errors="replace")

    async def installed_state(self, service: str) -> TrafficState | None:
        """The state recorded in the installed file (None: nothing installed)."""
        text = await self.current_config(service)
        return None if text is None else state_from_text(text)

    async def probe(self, service: str, via: str = "main") -> str | None:
        """Which release answers a fresh request on the service's main (or
        preview) listener, per the ``X-Shipdeck-Release`` header."""
        return (await self.probe_detail(service, via)).release

    async def probe_detail(self, service: str, via: str = "main") -> ProbeResult:
        state = await self._require_state(service)
        return await self._probe_port(self._port(state, via))

    @abc.abstractmethod
    async def observed_state(self, service: str) -> tuple[ObservedBackend, ...]:
        """Backends with their weights as the LB has them right now."""

    # ------------------------------------------------------------------- hooks

    @abc.abstractmethod
    def _render(self, state: TrafficState) -> str: ...

    @abc.abstractmethod
    async def _validation(self, target: Path, candidate: Path) -> Validation:
        """The checker argv for the full config with ``candidate`` in place of
        ``target``, staging any helper file it needs."""

    @abc.abstractmethod
    async def _reload(self) -> object:
        """Ask for a graceful reload; raise ``EngineOperationFailed`` if the LB
        refused it (and so still runs the previous config). Returns whatever
        ``_settle`` needs to know about the processes that ran before."""

    async def _settle(self, before: object) -> None:
        """After the new config answered: wait (bounded) until the processes
        that ran the old one no longer take new requests."""
        return None

    async def _activate(
        self, state: TrafficState, text: str, previous: str | None
    ) -> tuple[str, str]:
        """Refuse unhealthy live backends, then make ``text`` live; HAProxy
        overrides this to try the runtime API."""
        await self._preflight(state)
        return "reload", await self._install(state, text, previous, reload=True)

    async def _is_live(self, state: TrafficState) -> bool:
        """Whether the LB already serves ``state`` (installed file is equal)."""
        with contextlib.suppress(EngineError):
            result = await self._probe_port(state.listen_port)
            return result.config_generation == state.generation()
        return False

    async def _diagnose(self) -> str:
        """Extra words for a failed reload (e.g. the LB's error log)."""
        return ""

    # ---------------------------------------------------------------- pipeline

    async def _install(
        self, state: TrafficState, text: str, previous: str | None, *, reload: bool
    ) -> str:
        """Candidate → validate → rename → (reload → verify); returns the
        release that answered. On failure the previous file is back in place."""
        target = self.config_path(state.service)
        candidate = candidate_path(target)
        await self.transport.write_file_atomic(candidate, text.encode())
        validation = await self._validation(target, candidate)
        try:
            if validation.staged:
                await self._check(validation)
                await self.transport.rename(candidate, target)
            else:
                await self.transport.rename(candidate, target)
                try:
                    await self._check(validation)
                except EngineError:
                    await self._put_back(target, previous)
                    raise
        finally:
            for path in (*validation.scratch, candidate):
                with contextlib.suppress(EngineError):
                    await self.transport.remove(path)
        release = state.live_backends[0].release
        if reload:
            release = await self._reload_and_verify(state, target, previous)
        if previous is not None and previous != text:
            await self.transport.write_file_atomic(backup_path(target), previous.encode())
        return release

    async def _check(self, validation: Validation) -> None:
        rc, stdout, stderr = await self.transport.run(validation.argv, self.settings.timeout_s)
        if rc != 0:
            raise EngineOperationFailed(
                self.name, f"config rejected by checker: {checker_message(rc, stdout, stderr)}"
            )

    async def _reload_and_verify(
        self, state: TrafficState, target: Path, previous: str | None
    ) -> str:
        try:
            before = await self._reload()
        except EngineError as error:
            await self._put_back(target, previous)
            raise EngineOperationFailed(
                self.name, f"reload failed, previous config restored: {error.cause}"
            ) from None
        try:
            release = await self._verify_answer(Expectation.of(state), check_generation=True)
            await self._settle(before)
            return release
        except VerifyFailed as failure:
            await self._put_back(target, previous)
            reloaded_back = ""
            if failure.loaded:
                try:
                    await self._reload()
                    reloaded_back = " and reloaded"
                except EngineError as error:
                    reloaded_back = f" (reloading it failed: {error.cause})"
            diagnosis = await self._diagnose()
            raise EngineOperationFailed(
                self.name,
                f"{failure.cause}; previous config restored{reloaded_back}"
                + (f"; {diagnosis}" if diagnosis else ""),
            ) from None

    async def _put_back(self, target: Path, previous: str | None) -> None:
        if previous is None:
            await self.transport.remove(target)
        else:
            await self.transport.write_file_atomic(target, previous.encode())

    async def _preflight(self, state: TrafficState) -> None:
        """Refuse a weight set whose live backends do not answer their health
        check from the LB's machine, before anything is written."""
        if not self.settings.preflight_health:
            return
        backends = state.live_backends

        async def check(address: str, port: int) -> str | None:
            try:
                status, _ = await self.transport.http_get(
                    address, port, self.settings.health_path, self.settings.probe_timeout_s
                )
            except EngineError as error:
                return error.cause
            return None if 200 <= status < 400 else f"health check answered {status}"

        problems = await asyncio.gather(*(check(b.address, b.port) for b in backends))
        for backend, problem in zip(backends, problems, strict=True):
            if problem is not None:
                raise NoHealthyBackend(
                    f"{state.service}/{backend.name}",
                    f"refusing to send {backend.weight_pct}% to {backend.endpoint}: {problem}; "
                    "nothing was written",
                )

    async def _verify_answer(self, expect: Expectation, *, check_generation: bool) -> str:
        """Poll fresh requests until the new generation answers with an
        expected release on the main listener (and preview, if any)."""
        deadline = time.monotonic() + self.settings.verify_timeout_s
        seen_generation = False
        last = "no answer"
        while True:
            try:
                main = await self._probe_port(expect.main_port)
                generation_ok = not check_generation or main.config_generation == expect.generation
                seen_generation = seen_generation or generation_ok
                last = (
                    f"status {main.status}, release {main.release}, config {main.config_generation}"
                )
                if generation_ok and main.release in expect.main_releases:
                    if await self._preview_ok(expect, check_generation):
                        return main.release
                    last = "preview listener does not answer with the idle release"
            except TargetUnreachable as error:
                last = error.cause
            if time.monotonic() >= deadline:
                raise VerifyFailed(
                    self.name,
                    f"not serving config {expect.generation} after "
                    f"{self.settings.verify_timeout_s:g}s (last: {last})",
                    loaded=seen_generation,
                )
            await asyncio.sleep(VERIFY_POLL_S)

    async def _preview_ok(self, expect: Expectation, check_generation: bool) -> bool:
        if not expect.preview_releases:
            return True
        preview = await self._probe_port(expect.preview_port)
        if check_generation and preview.config_generation != expect.generation:
            return False
        return preview.release in expect.preview_releases

    async def _probe_port(self, port: int) -> ProbeResult:
        status, headers = await self.transport.http_get(
            self.settings.verify_address,
            port,
            self.settings.health_path,
            self.settings.probe_timeout_s,
        )
        return ProbeResult(
            status=status,
            release=headers.get(RELEASE_HEADER) or None,
            backend=headers.get(BACKEND_HEADER) or None,
            config_generation=headers.get(GENERATION_HEADER) or None,
        )

    async def _require_state(self, service: str) -> TrafficState:
        state = await self.installed_state(service)
        if state is None:
            raise EngineOperationFailed(self.name, f"no shipdeck config for service {service}")
        return state

    @staticmethod
    def _port(state: TrafficState, via: str) -> int:
        if via == "main":
            return state.listen_port
        if via == "preview":
            return state.preview_port
        raise InvalidTargetInput("probe", f"via must be 'main' or 'preview', not {via!r}")


def same_path(a: str | Path, b: str | Path) -> bool:
    """Two spellings of one absolute path (trailing slashes, ``//``)."""
    return PurePosixPath(str(a)) == PurePosixPath(str(b))


def replace_argv_path(argv: Sequence[str], old: Path, new: Sequence[str]) -> list[str] | None:
    """``argv`` with the element naming ``old`` replaced by ``new`` (several
    HAProxy files become ``f1 -f f2 …``); None if ``old`` is not in it."""
    for index, element in enumerate(argv):
        if same_path(element, old):
            flag = argv[index - 1] if index else ""
            expanded: list[str] = []
            for position, value in enumerate(new):
                if position and flag.startswith("-"):
                    expanded.append(flag)
                expanded.append(value)
            return [*argv[:index], *expanded, *argv[index + 1 :]]
    return None
