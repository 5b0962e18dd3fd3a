"""In-process flag evaluation: compile once per file version, then a dict lookup and a hash.

Applications call ``FlagFile.enabled()`` on every request, so the hot path must not
allocate contexts, dates or JSON, and must not stat the file. Each flag is compiled
for the environment this process runs in into a small tuple:

* ``(_OFF,)`` / ``(_ON,)``: no per-user decision at all;
* ``(_SPLIT, "key:", percent)``: a pure percentage rollout on ``user_id`` — one
  murmur3 hash, Unleash's gradual-rollout bucketing (``"<flag>:<user>"``, seed 0,
  ``% 100 + 1 <= percent``), so 10% ⊂ 50% ⊂ 100% and assignments match Unleash;
* ``(_FULL, CompiledFlag)``: allow/deny lists, rules or another stickiness
  attribute — the general evaluator, which is also what ``evaluate()`` and
  ``explain()`` use, so the fast path is only a shortcut, never a second semantics.

A daemon thread polls the file's stat signature every ``poll_interval_s`` and swaps
in a new compiled table (one attribute assignment, atomic under the GIL). A file
that fails to parse, cannot be read, or was truncated to nothing after flags had
loaded keeps the last good flags and is reported in ``last_error`` (logged once per
new error, never per evaluation). Evaluation never raises into the caller's request
path, and what goes wrong there (a bad override, a failing context value) is logged
once per flag, not once per request.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import mmh3

from console.core.errors import ShipdeckError
from console.flags.model import (
    Flag,
    FlagSet,
    Override,
    override_variable,
    overrides_for,
    parse_flags,
    parse_override,
    read_flags_file,
    require_environment,
    require_key,
    semver_key,
    shown_text,
)

_log = logging.getLogger("console.flags")

# OpenFeature reasons (https://openfeature.dev/specification/types#resolution-reason).
DISABLED = "DISABLED"  # the global kill switch or this environment's switch is off
TARGETING_MATCH = "TARGETING_MATCH"  # an allow/deny entry or rules decided (at 100%)
SPLIT = "SPLIT"  # the percentage bucket decided
DEFAULT = "DEFAULT"  # the flag is on but this context did not match (rules, 0%, no user)
STATIC = "STATIC"  # on for everyone: 100% with no targeting
ERROR = "ERROR"  # see error_code

FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
GENERAL = "GENERAL"

VARIANT_ON = "on"
VARIANT_OFF = "off"

_OFF, _ON, _SPLIT, _FULL = 0, 1, 2, 3
_hash = mmh3.hash


def bucket(key: str, identifier: object) -> int:
    """Unleash's normalised gradual-rollout bucket 1–100 for ``identifier`` in flag ``key``.

    Same as ``UnleashClient.utils.normalized_hash(identifier, key)``: murmur3 32-bit,
    unsigned, seed 0, of ``"<key>:<identifier>"``, ``% 100 + 1``. A user is in the
    rollout when ``bucket <= percent``, so growing the percentage only adds users.
    """
    return _hash(_hashable(f"{key}:{identifier}"), 0, False) % 100 + 1


def _hashable(text: str) -> str | bytes:
    """``text`` as mmh3 can hash it: mmh3 5.x crashes the process on a lone surrogate.

    Identifiers decoded with ``surrogateescape`` (``os.environ``, file names, some
    HTTP stacks) carry lone surrogates. UTF-8 with ``surrogatepass`` gives the same
    bytes mmh3 hashes for every valid string, so no existing assignment moves.
    ``str.isascii()`` is O(1), which keeps the common case free.
    """
    return text if text.isascii() else text.encode("utf-8", "surrogatepass")


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The outcome of one evaluation, OpenFeature-shaped."""

    key: str
    value: bool
    reason: str
    variant: str | None
    error_code: str | None = None
    error_message: str | None = None
    bucket: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "reason": self.reason,
            "variant": self.variant,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "bucket": self.bucket,
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    """An evaluation and the trace of why: which switch, rule or bucket decided."""

    key: str
    environment: str
    evaluation: Evaluation
    steps: tuple[str, ...]

    def __str__(self) -> str:
        ev = self.evaluation
        head = f"{self.key} [{self.environment}] → {ev.value} ({ev.reason}"
        head += f", {ev.error_code})" if ev.error_code else ")"
        return "\n".join([head, *(f"  {i}. {step}" for i, step in enumerate(self.steps, 1))])

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "environment": self.environment,
            **self.evaluation.to_json(),
            "trace": list(self.steps),
        }


class _Rule:
    """A rule compiled to a predicate on the context value (semver parsed once)."""

    __slots__ = ("attribute", "describe", "test")

    def __init__(self, attribute: str, op: str, values: tuple[str, ...], describe: str) -> None:
        self.attribute = attribute
        self.describe = describe
        if op == "equals":
            expected = values[0]
            self.test: Callable[[object], bool] = lambda v: str(v) == expected
        elif op == "in":
            allowed = frozenset(values)
            self.test = lambda v: str(v) in allowed
        else:
            target = semver_key(values[0])
            compare = {
                "semver_eq": lambda a: a == target,
                "semver_gt": lambda a: a > target,
                "semver_gte": lambda a: a >= target,
                "semver_lt": lambda a: a < target,
                "semver_lte": lambda a: a <= target,
            }[op]

            def test(value: object) -> bool:
                actual = semver_key(str(value))
                return actual is not None and compare(actual)

            self.test = test


class CompiledFlag:
    """One flag compiled for one environment, with any process override applied."""

    __slots__ = (
        "key",
        "environment",
        "killed",
        "env_enabled",
        "percent",
        "stickiness",
        "allow",
        "deny",
        "rules",
        "override",
        "fast",
    )

    def __init__(self, flag: Flag, environment: str, override: Override | None) -> None:
        state = flag.env(environment)
        self.key = flag.key
        self.environment = environment
        self.killed = not flag.enabled
        self.env_enabled = state.enabled
        self.percent = state.percent
        self.override = override if override is not None and override.error is None else None
        if self.override is not None:
            self.killed = False
            self.env_enabled = bool(self.override.enabled)
            self.percent = self.override.percent
        self.stickiness = flag.stickiness
        self.allow = frozenset(flag.allow)
        self.deny = frozenset(flag.deny)
        self.rules = tuple(_Rule(r.attribute, r.op, r.values, r.describe()) for r in flag.rules)
        self.fast = self._fast_form()

    def _fast_form(self) -> tuple:
        if self.killed or not self.env_enabled:
            return (_OFF,)
        if self.allow or self.deny or self.rules or self.stickiness != "user_id":
            return (_FULL, self)
        if self.percent >= 100:
            return (_ON,)
        if self.percent <= 0:
            return (_OFF,)
        return (_SPLIT, f"{self.key}:", self.percent)

    def evaluate(
        self,
        user_id: object,
        context: Mapping[str, Any] | None,
        trace: list[str] | None = None,
    ) -> Evaluation:
        """The general evaluator; appends human-readable steps to ``trace`` when given."""
        key = self.key
        note = trace.append if trace is not None else _ignore
        if self.override is not None:
            note(f"process override {self.override.describe()} replaces the file's state")
        if self.killed:
            note("global switch (enabled) is off: the flag is killed everywhere")
            return Evaluation(key, False, DISABLED, VARIANT_OFF)
        note("global switch (enabled) is on")
        if not self.env_enabled:
            note(f"{self.environment} is off")
            return Evaluation(key, False, DISABLED, VARIANT_OFF)
        note(f"{self.environment} is on at {self.percent}%")
        if user_id is None and context is not None:
            user_id = context.get("user_id")
        if user_id is not None:
            if self.deny and str(user_id) in self.deny:
                note(f"user {user_id} is on the deny list")
                return Evaluation(key, False, TARGETING_MATCH, VARIANT_OFF)
            if self.allow and str(user_id) in self.allow:
                note(f"user {user_id} is on the allow list")
                return Evaluation(key, True, TARGETING_MATCH, VARIANT_ON)
            if self.allow or self.deny:
                note(f"user {user_id} is on neither the allow nor the deny list")
        for index, rule in enumerate(self.rules, 1):
            value = self._attribute(rule.attribute, user_id, context)
            if value is None:
                note(f"rule {index} ({rule.describe}): {rule.attribute} missing from context")
                return Evaluation(key, False, DEFAULT, VARIANT_OFF)
            if not rule.test(value):
                note(f"rule {index} ({rule.describe}): no match for {rule.attribute}={value}")
                return Evaluation(key, False, DEFAULT, VARIANT_OFF)
            note(f"rule {index} ({rule.describe}): matched {rule.attribute}={value}")
        if self.percent >= 100:
            note("rollout is 100%: on for every matching context")
            reason = TARGETING_MATCH if self.rules else STATIC
            return Evaluation(key, True, reason, VARIANT_ON)
        if self.percent <= 0:
            note("rollout is 0%: nobody is in the split")
            return Evaluation(key, False, DEFAULT, VARIANT_OFF)
        identifier = self._attribute(self.stickiness, user_id, context)
        if identifier is None:
            note(f"no {self.stickiness} in context: a percentage rollout needs it")
            return Evaluation(key, False, DEFAULT, VARIANT_OFF)
        slot = bucket(key, identifier)
        inside = slot <= self.percent
        note(
            f"bucket = murmur3('{key}:{identifier}') % 100 + 1 = {slot}; "
            f"{slot} {'<=' if inside else '>'} {self.percent}% → {'in' if inside else 'out'}"
        )
        return Evaluation(key, inside, SPLIT, VARIANT_ON if inside else VARIANT_OFF, bucket=slot)

    @staticmethod
    def _attribute(name: str, user_id: object, context: Mapping[str, Any] | None) -> Any:
        if name == "user_id" and user_id is not None:
            return user_id
        return context.get(name) if context is not None else None


def _ignore(_: str) -> None:
    return None


@dataclass(frozen=True)
class Snapshot:
    """One compiled file version: what evaluation reads, swapped atomically on reload."""

    flags: FlagSet
    compiled: Mapping[str, CompiledFlag]
    fast: dict[str, tuple]
    overrides: Mapping[str, Override]
    signature: tuple | None
    version: int


def compile_flags(
    flags: FlagSet,
    environment: str,
    environ: Mapping[str, str],
    signature: tuple | None = None,
    version: int = 0,
) -> Snapshot:
    """Compile every flag for ``environment`` with the process overrides from ``environ``."""
    overrides = overrides_for(flags.flags.keys(), environ)
    compiled = {
        key: CompiledFlag(flag, environment, overrides.get(key))
        for key, flag in flags.flags.items()
    }
    fast = {key: c.fast for key, c in compiled.items()}
    return Snapshot(flags, compiled, fast, overrides, signature, version)


def _signature(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class FlagFile:
    """Flags from a TOML file, evaluated in-process, reloaded when the file changes.

    ``FlagFile("config/flags.toml", environment="production")`` loads synchronously,
    then (unless ``watch=False``) a daemon thread polls the file every
    ``poll_interval_s`` seconds. Overrides come from ``environ`` (default
    ``os.environ``) as ``SHIPDECK_FLAG_<KEY>=on|off|<percent>``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        environment: str = "production",
        *,
        poll_interval_s: float = 0.5,
        watch: bool = True,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        require_environment(environment)
        self.path = Path(path)
        self.environment = environment
        self.poll_interval_s = poll_interval_s
        self._environ = os.environ if environ is None else environ
        self._reload_lock = threading.Lock()
        self._listeners: list[Callable[[str | None], None]] = []
        self._stop = threading.Event()
        self._synthetic: dict[str, tuple] = {}
        self._warned: set[tuple[str, str]] = set()
        self._failed: set[str] = set()
        self.last_error: str | None = None
        self._snapshot = compile_flags(FlagSet(), environment, self._environ)
        self._fast: dict[str, tuple] = self._snapshot.fast
        self.reload()
        self._thread: threading.Thread | None = None
        if watch:
            self._thread = threading.Thread(
                target=_watch,
                args=(weakref.ref(self), self._stop, poll_interval_s),
                name=f"flags-watch:{self.path.name}",
                daemon=True,
            )
            self._thread.start()

    # -- hot path ----------------------------------------------------------------------------

    def enabled(
        self, key: str, user_id: object = None, context: Mapping[str, Any] | None = None
    ) -> bool:
        """Is ``key`` on for this user? Never raises; an unknown flag is ``False``."""
        try:
            compiled = self._fast.get(key)
            if compiled is None:
                compiled = self._missing(key)
            kind = compiled[0]
            if kind == _SPLIT:
                if user_id is None:
                    user_id = context.get("user_id") if context is not None else None
                    if user_id is None:
                        return False
                text = f"{compiled[1]}{user_id}"
                return _hash(_hashable(text), 0, False) % 100 < compiled[2]
            if kind == _FULL:
                return compiled[1].evaluate(user_id, context).value
            return kind == _ON
        except Exception as exc:  # never break the caller's request over a flag
            self._report_failure(key, exc)
            return False

    # -- detailed evaluation -----------------------------------------------------------------

    def evaluate(
        self,
        key: str,
        context: Mapping[str, Any] | None = None,
        *,
        default: bool = False,
        user_id: object = None,
    ) -> Evaluation:
        """Value, reason and variant; an unknown flag is ``default`` with ``FLAG_NOT_FOUND``."""
        return self._evaluate(key, context, default, user_id, None)

    def explain(
        self,
        key: str,
        user_id: object = None,
        context: Mapping[str, Any] | None = None,
        *,
        default: bool = False,
    ) -> Explanation:
        """The evaluation plus its trace: which switch, list, rule or bucket decided."""
        steps: list[str] = []
        if self.last_error:
            steps.append(
                f"note: the file has an error, using the last good version: {self.last_error}"
            )
        evaluation = self._evaluate(key, context, default, user_id, steps)
        return Explanation(key, self.environment, evaluation, tuple(steps))

    def _evaluate(
        self,
        key: str,
        context: Mapping[str, Any] | None,
        default: bool,
        user_id: object,
        trace: list[str] | None,
    ) -> Evaluation:
        try:
            compiled = self._snapshot.compiled.get(key)
            if compiled is None:
                synthetic = self._missing(key)
                if synthetic is not _MISSING:
                    compiled = synthetic[1]
            if compiled is None:
                if trace is not None:
                    trace.append(f"no flag {key!r} in {self.path}: returning the default")
                return Evaluation(
                    key, default, ERROR, None, FLAG_NOT_FOUND, f"flag {key!r} not found"
                )
            return compiled.evaluate(user_id, context, trace)
        except Exception as exc:  # the request path must never see an exception
            self._report_failure(key, exc)
            if trace is not None:
                trace.append(f"evaluation failed: {exc!r}")
            return Evaluation(key, default, ERROR, None, GENERAL, str(exc))

    def _missing(self, key: str) -> tuple:
        """A key not in the file: an env override alone can define it, else off.

        Results — including "off" for an invalid key, no override or a bad one —
        are memoised per key (at most ``_MISSING_CACHE_MAX`` keys per file version)
        so the simplest no-file setup is still a dict lookup, and a bad override is
        warned about once, not on every call.
        """
        cached = self._synthetic.get(key)
        if cached is not None:
            return cached
        entry = _MISSING
        try:
            require_key(key)
            variable = override_variable(key)
            raw = self._environ.get(variable)
            override = parse_override(variable, raw) if raw is not None else None
            if override is not None and override.error is not None:
                self._warn_override(override)
            elif override is not None:
                stub = Flag(key=key, owner="(override)", type="operational", created=_EPOCH)
                entry = (_FULL, CompiledFlag(stub, self.environment, override))
        except ShipdeckError:
            pass  # not a valid key: no flag can have it, so it is simply off
        except Exception as exc:  # a bug here must not fail (or log) every request
            self._report_failure(key, exc)
        if len(self._synthetic) < _MISSING_CACHE_MAX or entry is not _MISSING:
            self._synthetic[key] = entry
        return entry

    def _warn_override(self, override: Override) -> None:
        """One warning per bad ``SHIPDECK_FLAG_*`` value, however often it is met."""
        seen = (override.variable, override.raw)
        if seen in self._warned or len(self._warned) >= _MISSING_CACHE_MAX:
            return
        self._warned.add(seen)
        _log.warning("flags: ignoring override %s", override.describe())

    def _report_failure(self, key: object, exc: Exception) -> None:
        """Log a failed evaluation once per key (with its traceback: it is a bug or a
        hostile context value); later failures of the same key only return the default."""
        name = shown_text(key) if isinstance(key, str) else f"<{type(key).__name__}>"
        if name in self._failed or len(self._failed) >= _MISSING_CACHE_MAX:
            return
        self._failed.add(name)
        _log.warning(
            "flag %s: evaluation failed, returning the default (logged once per flag): %s",
            name,
            shown_text(f"{type(exc).__name__}: {exc}"),
            exc_info=exc,
        )

    # -- file version management -------------------------------------------------------------

    @property
    def flags(self) -> FlagSet:
        """The flags of the current (last good) file version."""
        return self._snapshot.flags

    @property
    def version(self) -> int:
        """Increments each time a new file version is swapped in."""
        return self._snapshot.version

    @property
    def overrides(self) -> Mapping[str, Override]:
        """Process overrides that name flags in the file, including invalid ones."""
        return self._snapshot.overrides

    def subscribe(self, listener: Callable[[str | None], None]) -> None:
        """Call ``listener(error_or_None)`` after every reload attempt (watcher thread)."""
        self._listeners.append(listener)

    def reload(self) -> bool:
        """Load the file now; on failure keep the last good flags and set ``last_error``."""
        with self._reload_lock:
            signature = _signature(self.path)
            error: str | None = None
            try:
                text = read_flags_file(self.path)
                if not text.strip() and len(self._snapshot.flags):
                    # A file that had flags does not become empty on purpose: an editor
                    # or `>` truncated it, maybe mid-write. Turning every flag off (kill
                    # switches included) is the worst reading of that.
                    error = (
                        f"{self.path}: flags file is empty (truncated?); "
                        "to remove every flag, write 'version = 1'"
                    )
                else:
                    flags = parse_flags(text, str(self.path))
                    snapshot = compile_flags(
                        flags,
                        self.environment,
                        self._environ,
                        signature,
                        self._snapshot.version + 1,
                    )
            except FileNotFoundError:
                error = f"{self.path}: flags file not found"
            except OSError as exc:
                error = f"{self.path}: cannot read flags file: {exc.strerror or exc}"
            except ShipdeckError as exc:
                errors = getattr(exc, "errors", None) or [str(exc)]
                error = "; ".join(errors)
            except Exception as exc:  # a bug must not take evaluation down with it
                error = f"{self.path}: {type(exc).__name__}: {shown_text(str(exc))}"
            if error is None:
                self._synthetic = {}
                self._snapshot = snapshot
                self._fast = snapshot.fast
                for override in snapshot.overrides.values():
                    if override.error is not None:
                        self._warn_override(override)
            else:
                # Remember the signature so a broken file is reported once, not every poll.
                self._snapshot = _with_signature(self._snapshot, signature)
                if error != self.last_error:
                    kept = "keeping the last good version" if self._snapshot.version else "no flags"
                    _log.warning("flags: %s (%s)", error, kept)
            self.last_error = error
        for listener in list(self._listeners):
            try:
                listener(error)
            except Exception:
                _log.exception("flags: reload listener failed")
        return error is None

    def check(self) -> bool:
        """Reload if the file's stat signature changed; what the watcher calls."""
        if _signature(self.path) != self._snapshot.signature:
            self.reload()
            return True
        return False

    def close(self) -> None:
        """Stop the watcher thread (waits at most a few poll intervals)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(1.0, 4 * self.poll_interval_s))

    def __enter__(self) -> FlagFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_EPOCH = date(1970, 1, 1)
_MISSING = (_OFF,)
_MISSING_CACHE_MAX = 1024


def _with_signature(snapshot: Snapshot, signature: tuple | None) -> Snapshot:
    return replace(snapshot, signature=signature)


def _watch(ref: weakref.ref[FlagFile], stop: threading.Event, interval_s: float) -> None:
    """Poll loop; holds only a weak reference so a dropped FlagFile ends its thread."""
    while not stop.wait(interval_s):
        flags = ref()
        if flags is None:
            return
        try:
            flags.check()
        except Exception:
            _log.exception("flags: watcher check failed")
        del flags
