"""The console's changing actions, each one call into ``console.core``. Textual-free.

Screens ask for confirmation, then call a ``ConsoleOps`` method from a worker.
``CoreOps`` builds the same ``OpContext`` the CLI builds (``opsupport.py``) and
calls the same core functions; the tests inject a fake.

A deploy is started as a detached ``shipdeck deploy`` process: a rollout lasts
minutes to hours and must survive the console being closed (or its terminal
dying), exactly as if another on-call had started it from a shell. The console
then follows it through the state store like any other writer's rollout.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from console.core.clock import Clock
from console.core.config import Config
from console.core.errors import ShipdeckError
from console.core.locking import lock_service, unlock_service
from console.core.store import Outcome, StateStore

Listener = Callable[[str, str, dict[str, Any]], None]


@dataclass(frozen=True)
class OpResult:
    """What one action did, in one line for a toast."""

    ok: bool
    message: str


class Rollout(Protocol):
    """A rollout started from this console, running in its own process."""

    description: str
    command: str
    log_path: Path | None

    def poll(self) -> int | None: ...


class ConsoleOps(Protocol):
    """Every changing action the console offers. Blocking methods run in thread workers."""

    operator: str

    def add_listener(self, listener: Listener) -> None: ...

    def rollback(self, service: str, environment: str, to: str) -> OpResult: ...

    def promote(self, service: str, environment: str) -> OpResult: ...

    def abort(self, service: str, environment: str) -> OpResult: ...

    def start_deploy(
        self, service: str, environment: str, image: str, strategy: str
    ) -> Rollout: ...

    def lock(self, service: str, reason: str) -> OpResult: ...

    def unlock(self, service: str, force: bool) -> OpResult: ...

    def set_flag_enabled(self, key: str, environment: str, enabled: bool) -> OpResult: ...

    def set_flag_percent(self, key: str, environment: str, percent: int) -> OpResult: ...

    def kill_flag(self, key: str) -> OpResult: ...


# -- the equivalent headless commands (shown in every confirmation) ----------------------------


def _cmd(*parts: str) -> str:
    return "shipdeck " + " ".join(shlex.quote(p) for p in parts)


def rollback_command(service: str, environment: str, to: str) -> str:
    return _cmd("rollback", service, "--env", environment, "--to", to)


def promote_command(service: str, environment: str) -> str:
    return _cmd("promote", service, "--env", environment)


def abort_command(service: str, environment: str) -> str:
    return _cmd("abort", service, "--env", environment)


def deploy_command(service: str, environment: str, image: str, strategy: str) -> str:
    return _cmd("deploy", service, image, "--env", environment, "--strategy", strategy)


def lock_command(service: str, reason: str) -> str:
    return _cmd("lock", service, "--reason", reason)


def unlock_command(service: str, force: bool) -> str:
    return _cmd("unlock", service, *(["--force"] if force else []))


def flag_toggle_command(key: str, environment: str, enabled: bool) -> str:
    return _cmd("flags", "on" if enabled else "off", key, "--env", environment)


def flag_percent_command(key: str, environment: str, percent: int) -> str:
    return _cmd("flags", "set", key, "--percent", str(percent), "--env", environment)


def flag_kill_command(key: str) -> str:
    return _cmd("flags", "kill", key)


# -- the real thing ---------------------------------------------------------------------------


@dataclass
class DetachedRollout:
    """A ``shipdeck deploy`` child in its own session: closing the console leaves it running."""

    description: str
    command: str
    process: subprocess.Popen[bytes]
    log_path: Path | None

    def poll(self) -> int | None:
        return self.process.poll()


class CoreOps:
    """``ConsoleOps`` over ``console.core`` — the same calls the headless CLI makes."""

    def __init__(
        self,
        config: Config,
        store: StateStore,
        clock: Clock,
        operator: str,
        *,
        config_path: Path | None,
        state_path: Path,
        python: str = sys.executable,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.operator = operator
        self.config_path = config_path
        self.state_path = state_path
        self.python = python
        self._listeners: list[Listener] = []

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _run(self, work: Callable[[Any], Coroutine[Any, Any, OpResult]]) -> OpResult:
        """Run one core operation on this worker thread's own event loop."""

        async def main() -> OpResult:
            from console.core.fleet import Fleet
            from console.core.ops.context import OpContext

            fleet = Fleet(self.config)
            op = OpContext(
                config=self.config,
                store=self.store,
                clock=self.clock,
                operator=self.operator,
                fleet=fleet,
                listeners=list(self._listeners),
            )
            try:
                return await work(op)
            finally:
                await fleet.close()

        try:
            return asyncio.run(main())
        except ShipdeckError as error:
            return OpResult(False, str(error))
        except Exception as error:  # a face reports, it does not crash
            return OpResult(False, f"{type(error).__name__}: {error}")

    # -- rollouts ---------------------------------------------------------------------------

    def rollback(self, service: str, environment: str, to: str) -> OpResult:
        async def work(op: Any) -> OpResult:
            from console.core.ops.rollback import rollback

            result = await rollback(op, service, environment, to)
            text = (
                f"{service}/{environment}: rollback {result.outcome}: "
                f"{result.from_release or '-'} → {result.to_release} ({result.mode}, "
                f"{result.duration_s:.1f}s)" + (f": {result.reason}" if result.reason else "")
            )
            return OpResult(result.outcome == Outcome.SUCCEEDED, text)

        return self._run(work)

    def promote(self, service: str, environment: str) -> OpResult:
        async def work(op: Any) -> OpResult:
            from console.core.ops.canary import request_signal

            deployment_id = await request_signal(op, service, environment, "promote")
            return OpResult(True, f"{service}/{environment}: promote requested (#{deployment_id})")

        return self._run(work)

    def abort(self, service: str, environment: str) -> OpResult:
        """What ``shipdeck abort`` does: a rollback to the baseline that first asks the
        process running the rollout to stop (or takes over if that process died)."""

        async def work(op: Any) -> OpResult:
            from console.core.ops.rollback import rollback

            result = await rollback(op, service, environment, "last-good", kind="abort")
            text = (
                f"{service}/{environment}: abort {result.outcome}: traffic on {result.to_release}"
            )
            return OpResult(
                result.outcome == Outcome.SUCCEEDED,
                text + (f": {result.reason}" if result.reason else ""),
            )

        return self._run(work)

    def start_deploy(self, service: str, environment: str, image: str, strategy: str) -> Rollout:
        argv = [self.python, "-m", "console"]
        if self.config_path is not None:
            argv += ["--config", str(self.config_path)]
        argv += ["--state", str(self.state_path)]
        argv += ["deploy", service, image, "--env", environment, "--strategy", strategy]
        argv += ["--yes", "--json"]
        log_dir = self.state_path.parent / "console-runs"
        log_dir.mkdir(parents=True, exist_ok=True)
        stamp = self.clock.now().strftime("%Y%m%dT%H%M%S")
        log_path = log_dir / f"deploy-{service}-{environment}-{stamp}.jsonl"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "SHIPDECK_OPERATOR": self.operator},
            )
        return DetachedRollout(
            f"{service}/{environment}: deploy {image} ({strategy})",
            deploy_command(service, environment, image, strategy),
            process,
            log_path,
        )

    # -- locks ------------------------------------------------------------------------------

    def lock(self, service: str, reason: str) -> OpResult:
        try:
            self.config.service(service)
            ours = lock_service(self.store, service, self.operator, reason, self.clock)
        except ShipdeckError as error:
            return OpResult(False, str(error))
        return OpResult(True, f"{service}: locked by {ours.holder}: {ours.reason}")

    def unlock(self, service: str, force: bool) -> OpResult:
        try:
            released = unlock_service(self.store, service, self.operator, self.clock, force=force)
        except ShipdeckError as error:
            return OpResult(False, str(error))
        if released.lock is None:
            return OpResult(True, f"{service}: not locked")
        return OpResult(True, f"{service}: unlocked (was held by {released.lock.holder})")

    # -- flags (same calls as ``shipdeck flags on/off/set/kill``) ------------------------------

    def _mutate_flag(self, key: str, change: Callable[[Any], Any]) -> Any:
        from console.flags.model import require_key
        from console.flags.store import FlagStore

        require_key(key)

        def apply(flags: Any) -> Any:
            return flags.with_flag(change(flags.require(key)))

        written = FlagStore(Path(self.config.flags_path)).mutate(
            apply, self.operator, self.store.record_flag_change, now=self.clock.now
        )
        return written.require(key)

    def _flag_op(
        self, key: str, change: Callable[[Any], Any], done: Callable[[Any], str]
    ) -> OpResult:
        try:
            flag = self._mutate_flag(key, change)
        except ShipdeckError as error:
            return OpResult(False, str(error))
        except Exception as error:
            return OpResult(False, f"{type(error).__name__}: {error}")
        return OpResult(True, done(flag))

    def set_flag_enabled(self, key: str, environment: str, enabled: bool) -> OpResult:
        def change(flag: Any) -> Any:
            if enabled:  # like ``flags on``: turning on re-arms the global switch
                flag = replace(flag, enabled=True)
            return flag.with_env(environment, enabled=enabled)

        return self._flag_op(
            key,
            change,
            lambda f: (
                f"{key}: {environment} "
                + (f"on {f.env(environment).percent}%" if enabled else "off")
            ),
        )

    def set_flag_percent(self, key: str, environment: str, percent: int) -> OpResult:
        return self._flag_op(
            key,
            lambda flag: flag.with_env(environment, percent=percent),
            lambda f: f"{key}: {environment} at {percent}%",
        )

    def kill_flag(self, key: str) -> OpResult:
        from console.flags.model import ENVIRONMENTS

        def change(flag: Any) -> Any:
            flag = replace(flag, enabled=False)
            for env in ENVIRONMENTS:
                flag = flag.with_env(env, enabled=False)
            return flag

        return self._flag_op(key, change, lambda f: f"{key}: KILLED — off in every environment")
