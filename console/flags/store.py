"""Writing the flags file: locked read-modify-write, atomic replace, audited.

On-call flips flags from several terminals at once, and CI may create flags while
someone kills one. Every change therefore runs as: take the file lock, read the
current file, apply the change function, write a temp file in the same directory,
fsync, rename over the original, fsync the directory, then record each changed
flag in the audit log — all under the lock, so no writer loses another's change and
readers (``FlagFile`` watchers, humans) only ever see a complete, valid file.

A change that is refused (unknown flag, invalid file) is refused before the lock is
taken, so it leaves nothing on disk, not even a lock file. Files this module creates
(the flags file, its lock file) are 0600; an existing flags file keeps its mode.
A file system that refuses the write (read-only, no permission) is one line, exit 1.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import filelock
import tomli_w

from console.core.errors import Blocked, ConfigInvalid, InvalidInput, OperationFailed
from console.flags.model import ENVIRONMENTS, Flag, FlagSet, parse_flags, read_flags_file

# Flags say what production runs; only the owner needs to read them.
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


class AuditSink(Protocol):
    """The state store's ``record_flag_change``; ``old``/``new`` are ``Flag.to_json()``."""

    def __call__(
        self,
        flag_key: str,
        environment: str | None,
        operator: str,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
    ) -> None: ...


def render(flags: FlagSet) -> str:
    """The file's text: sorted keys, one table per flag, stable across writes."""
    return tomli_w.dumps(flags.to_toml())


class FlagStore:
    """The flags TOML file as a store: ``load()`` and ``mutate(fn, operator, audit)``."""

    def __init__(self, path: str | os.PathLike[str], *, lock_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self._lock = filelock.FileLock(
            str(self.path.with_name(f".{self.path.name}.lock")),
            timeout=lock_timeout_s,
            mode=FILE_MODE,
        )

    def load(self) -> FlagSet:
        """The current flags; a missing file is an empty set (the first write creates it).

        Reads at most ``MAX_FILE_BYTES`` from any file type. An unreadable file is
        ``OperationFailed`` (exit 1: the input may be fine, the system refused it);
        a directory is ``InvalidInput``; a bad file is ``ConfigInvalid`` (exit 2).
        """
        try:
            text = read_flags_file(self.path)
        except FileNotFoundError:
            return FlagSet()
        except (IsADirectoryError, NotADirectoryError):
            raise InvalidInput(f"{self.path}: not a flags file (a directory)") from None
        except OSError as exc:
            raise OperationFailed(
                f"{self.path}: cannot read flags file: {exc.strerror or exc}"
            ) from None
        return parse_flags(text, str(self.path))

    def mutate(
        self,
        fn: Callable[[FlagSet], FlagSet],
        operator: str,
        audit: AuditSink | None = None,
        *,
        now: Callable[[], datetime] | None = None,
    ) -> FlagSet:
        """Apply ``fn`` to the current flags under the lock and write the result atomically.

        Changed flags get ``last_changed_by/at``; an environment whose switch or
        percentage changed gets ``<env>_changed_at``. ``fn`` may raise (e.g.
        ``InvalidInput`` for an unknown flag): nothing is written. Returns the flags
        as written (or unchanged when ``fn`` changed nothing).
        """
        if not operator or not operator.strip():
            raise InvalidInput("flags: an operator name is required to change flags")
        # Dry run without the lock: a change that will be refused (unknown flag, bad
        # file) is refused before anything — lock file, directory — is created.
        fn(self.load())
        self._require_writable()
        try:
            # Before the lock: filelock would create a missing directory 0755.
            self.path.parent.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
            self._lock.acquire()
        except filelock.Timeout:
            raise Blocked(
                f"flags file {self.path} is locked by another writer "
                f"(waited {self.lock_timeout_s:g}s for {self._lock.lock_file})"
            ) from None
        except OSError as exc:
            raise _not_writable(self.path, exc) from None
        try:
            self._require_writable()
            old = self.load()
            new = fn(old)
            at = (now or _utc_now)().astimezone(UTC).replace(microsecond=0)
            new, changes = _stamp(old, new, operator, at)
            if not changes:
                return old
            text = render(new)
            try:
                parse_flags(text, str(self.path))  # never write what we could not read back
            except ConfigInvalid as exc:
                raise InvalidInput(f"flags: refusing to write an invalid file: {exc}") from None
            try:
                self._write(text)
            except OSError as exc:
                raise _not_writable(self.path, exc) from None
            if audit is not None:
                for key, environment, before, after in changes:
                    try:
                        audit(key, environment, operator, before, after)
                    except Exception as exc:
                        raise OperationFailed(
                            f"flag {key!r} was changed but the audit record failed: {exc}"
                        ) from exc
            return new
        finally:
            self._lock.release()

    def _require_writable(self) -> None:
        """Refuse a flags file its owner made read-only: the atomic rename needs only
        the directory's permission and would silently replace it (even as root)."""
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return
        if not mode & 0o222 or not os.access(self.path, os.W_OK):
            raise _not_writable(
                self.path, OSError(errno.EACCES, "the flags file is read-only", str(self.path))
            )

    def _write(self, text: str) -> None:
        """Temp file in the same directory + fsync + rename + directory fsync."""
        directory = self.path.parent
        directory.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        # mkstemp creates the temp file 0600 (FILE_MODE) whatever the umask.
        fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                # A rewrite must not widen (or narrow) what the operator chose.
                os.chmod(temp, self.path.stat().st_mode & 0o7777)
            except FileNotFoundError:
                os.chmod(temp, FILE_MODE)
            os.replace(temp, self.path)
        except BaseException:
            with _suppress_missing():
                os.unlink(temp)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _not_writable(path: Path, exc: OSError) -> OperationFailed:
    """Exit 1, not 2: the request was valid; the file system refused it (read-only
    mount, no write permission on the file, its directory or the lock file)."""
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
    return OperationFailed(f"flags: cannot write {path}: {exc.strerror or exc}{where}; unchanged")


class _suppress_missing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, *_: object) -> bool:
        return kind is not None and issubclass(kind, FileNotFoundError)


def _utc_now() -> datetime:
    return datetime.now(UTC)


Change = tuple[str, str | None, dict[str, Any] | None, dict[str, Any] | None]


def _content(flag: Flag) -> dict[str, Any]:
    """What a change is about: the flag without its own bookkeeping timestamps."""
    doc = flag.to_json()
    for name in ("last_changed_at", "last_changed_by", *(f"{e}_changed_at" for e in ENVIRONMENTS)):
        doc.pop(name, None)
    return doc


def _stamp(old: FlagSet, new: FlagSet, operator: str, at: datetime) -> tuple[FlagSet, list[Change]]:
    """Stamp changed flags and list the changes for the audit log, in key order."""
    changes: list[Change] = []
    stamped = dict(new.flags)
    for key in sorted(set(old.flags) | set(new.flags)):
        before, after = old.get(key), new.get(key)
        if after is None:
            changes.append((key, None, before.to_json() if before else None, None))
            continue
        if before is not None and _content(before) == _content(after):
            continue
        envs = dict(after.environments)
        touched: list[str] = []
        for env in ENVIRONMENTS:
            state = after.env(env)
            prior = before.env(env) if before is not None else None
            if prior is None or (prior.enabled, prior.percent) != (state.enabled, state.percent):
                envs[env] = replace(state, changed_at=at)
                touched.append(env)
        after = replace(after, environments=envs, last_changed_by=operator, last_changed_at=at)
        stamped[key] = after
        environment = _environment_of(before, after, touched)
        changes.append((key, environment, before.to_json() if before else None, after.to_json()))
    return FlagSet({k: stamped[k] for k in sorted(stamped)}), changes


def _environment_of(before: Flag | None, after: Flag, touched: list[str]) -> str | None:
    """The one environment a change was confined to, else None (global or several)."""
    if before is None or len(touched) != 1:
        return None
    env = touched[0]
    a, b = _content(before), _content(after)
    for name in (f"{env}_enabled", f"{env}_percent"):
        a.pop(name, None)
        b.pop(name, None)
    return env if a == b else None
