"""SSH to deploy hosts: one multiplexed asyncssh connection per host, reused.

Every host operation (commands, files, Docker API, health probes) rides on the
one connection the pool keeps for that host, so a deploy pays the handshake once.
Safety rules that this module owns:

- Host keys are always checked against the configured known_hosts file; an
  unknown host or a changed key is refused with a message saying which, never
  accepted on first use.
- Commands are argv lists, each element quoted with ``shlex.quote``; there is no
  way to pass a shell string, so user input is never interpreted by a shell.
- Every network step has an explicit timeout, and connects/commands are bounded
  by a semaphore so a fan-out over many hosts cannot open unbounded sessions.

A pool belongs to one event loop (asyncssh connections do); make one per loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import posixpath
import re
import secrets
import shlex
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from engines.errors import (
    EngineError,
    EngineOperationFailed,
    InvalidTargetInput,
    TargetUnreachable,
)

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_USER_PATTERN = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
_HOSTNAME_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME_PATTERN = re.compile(rf"^(?=.{{1,253}}$){_HOSTNAME_LABEL}(?:\.{_HOSTNAME_LABEL})*$")


def validate_port(owner: str, port: object, *, allow_zero: bool = False) -> int:
    """A TCP port as an int in range, or ``InvalidTargetInput`` naming ``owner``."""
    lowest = 0 if allow_zero else 1
    if isinstance(port, bool) or not isinstance(port, int) or not lowest <= port <= 65535:
        raise InvalidTargetInput(owner, f"port {port!r} is not an integer in {lowest}..65535")
    return port


def validate_address(owner: str, address: object) -> str:
    """An IP address or DNS name, refusing anything a shell or URL could misread."""
    if not isinstance(address, str):
        raise InvalidTargetInput(owner, f"address {address!r} is not a string")
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(address))
    if not _HOSTNAME_PATTERN.fullmatch(address):
        raise InvalidTargetInput(owner, f"address {address!r} is neither an IP nor a host name")
    return address


def validate_remote_path(owner: str, path: object) -> str:
    """An absolute POSIX path without NUL or newline (it may reach a remote process)."""
    if not isinstance(path, str) or not path.startswith("/") or any(c in path for c in "\0\n"):
        raise InvalidTargetInput(owner, f"remote path {path!r} must be absolute and single-line")
    return path


def quote_argv(argv: Sequence[str]) -> str:
    """Join argv into one command line, each element quoted so no shell reinterprets it.

    A plain string is refused (that would be a shell string in disguise).
    """
    if isinstance(argv, (str, bytes)) or not isinstance(argv, Sequence):
        raise ValueError("argv must be a list of strings, not a shell string")
    if not argv:
        raise ValueError("argv must not be empty")
    for element in argv:
        if not isinstance(element, str):
            raise ValueError(f"argv element {element!r} is not a string")
        if "\0" in element:
            raise ValueError("argv elements must not contain NUL")
    return " ".join(shlex.quote(element) for element in argv)


@dataclass(frozen=True, kw_only=True)
class SshTarget:
    """How to reach one host. ``identity_file=None`` means: use the SSH agent
    (and the user's default keys). Validated on creation, so nothing unsafe
    ever reaches asyncssh or a remote command."""

    name: str
    address: str
    port: int = 22
    user: str = "root"
    known_hosts: Path
    identity_file: Path | None = None
    connect_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_PATTERN.fullmatch(self.name):
            raise InvalidTargetInput(str(self.name), "host name must match [A-Za-z0-9._-]{1,63}")
        validate_address(self.name, self.address)
        validate_port(self.name, self.port)
        if not isinstance(self.user, str) or not _USER_PATTERN.fullmatch(self.user):
            raise InvalidTargetInput(self.name, f"SSH user {self.user!r} is not a valid user name")
        object.__setattr__(self, "known_hosts", Path(self.known_hosts))
        if self.identity_file is not None:
            object.__setattr__(self, "identity_file", Path(self.identity_file))
        if not self.connect_timeout_s > 0:
            raise InvalidTargetInput(self.name, "connect_timeout_s must be positive")

    @property
    def endpoint(self) -> str:
        """``address:port`` as people read it in error messages."""
        return f"{self.address}:{self.port}"


@dataclass(frozen=True)
class CommandResult:
    """A finished remote command. ``exit_status`` is None when a signal killed it."""

    argv: tuple[str, ...]
    exit_status: int | None
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


@dataclass
class _Forward:
    """A local UNIX socket forwarded over one specific connection."""

    connection: asyncssh.SSHClientConnection
    listener: asyncssh.SSHListener
    local_path: str


class SshPool:
    """Keeps one SSH connection per target, reconnecting when it was dropped.

    ``max_concurrent_ops`` bounds, across all hosts, how many connection
    handshakes, remote commands and SFTP writes run at once. Traffic on already
    forwarded sockets and TCP probes is not counted: it is multiplexed on an
    established connection and costs no new session on the host.
    """

    def __init__(
        self,
        *,
        max_concurrent_ops: int = 16,
        keepalive_interval_s: float = 5.0,
        keepalive_count_max: int = 3,
    ) -> None:
        if max_concurrent_ops < 1:
            raise ValueError("max_concurrent_ops must be at least 1")
        self._slots = asyncio.Semaphore(max_concurrent_ops)
        self._keepalive_interval_s = keepalive_interval_s
        self._keepalive_count_max = keepalive_count_max
        self._connections: dict[SshTarget, asyncssh.SSHClientConnection] = {}
        self._connect_locks: dict[SshTarget, asyncio.Lock] = {}
        self._connect_failures: dict[SshTarget, tuple[float, EngineError]] = {}
        self._forwards: dict[tuple[SshTarget, str], _Forward] = {}
        self._forward_locks: dict[tuple[SshTarget, str], asyncio.Lock] = {}
        self._socket_dir: Path | None = None
        self._socket_counter = 0

    async def __aenter__(self) -> SshPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def is_connected(self, target: SshTarget) -> bool:
        """Whether a live connection to ``target`` is held right now."""
        connection = self._connections.get(target)
        return connection is not None and not connection.is_closed()

    async def connection(self, target: SshTarget) -> asyncssh.SSHClientConnection:
        """The live connection to ``target``, connecting (once, even if many
        callers ask at the same time) when there is none or it was dropped."""
        if self.is_connected(target):
            return self._connections[target]
        asked_at = time.monotonic()
        lock = self._connect_locks.setdefault(target, asyncio.Lock())
        async with lock:
            if self.is_connected(target):
                return self._connections[target]
            # Whoever waited while a connect failed gets that failure, instead of
            # paying one more connect timeout each on a host that is down.
            failed_at, failure = self._connect_failures.get(target, (0.0, None))
            if failure is not None and failed_at >= asked_at:
                raise type(failure)(failure.target, failure.cause)
            self._forget_connection(target)
            try:
                async with self._slots:
                    connection = await self._connect(target)
            except EngineError as exc:
                self._connect_failures[target] = (time.monotonic(), exc)
                raise
            self._connect_failures.pop(target, None)
            self._connections[target] = connection
            return connection

    async def run(
        self,
        target: SshTarget,
        argv: Sequence[str],
        *,
        timeout_s: float = 60.0,
        check: bool = True,
        stdin: str | None = None,
    ) -> CommandResult:
        """Run argv on the host (each element shell-quoted). With ``check``, a
        non-zero exit raises ``EngineOperationFailed`` quoting stderr's tail."""
        try:
            command = quote_argv(argv)
        except ValueError as exc:
            raise InvalidTargetInput(target.name, str(exc)) from None
        program = argv[0]
        connection = await self.connection(target)
        async with self._slots:
            try:
                completed = await connection.run(
                    command,
                    check=False,
                    timeout=timeout_s,
                    input=stdin,
                    encoding="utf-8",
                    errors="replace",
                )
            except TimeoutError:
                raise EngineOperationFailed(
                    target.name, f"command {program!r} timed out after {timeout_s:g}s"
                ) from None
            except (asyncssh.Error, OSError) as exc:
                raise self._lost(target, f"command {program!r}", exc) from exc
        result = CommandResult(
            argv=tuple(argv),
            exit_status=completed.exit_status,
            stdout=str(completed.stdout or ""),
            stderr=str(completed.stderr or ""),
        )
        if check and not result.ok:
            how = (
                f"exited with status {result.exit_status}"
                if result.exit_status is not None
                else f"was killed by signal {completed.exit_signal}"
            )
            raise EngineOperationFailed(
                target.name, f"command {program!r} {how}: {_tail(result.stderr)}"
            )
        return result

    async def write_file_atomic(
        self,
        target: SshTarget,
        path: str,
        data: bytes,
        *,
        mode: int = 0o644,
        timeout_s: float = 30.0,
    ) -> None:
        """Replace ``path`` on the host all at once: readers see the old or the
        new content, never half a file (SFTP temp file, fsync, posix-rename)."""
        validate_remote_path(target.name, path)
        directory, base = posixpath.split(path)
        temp_path = posixpath.join(directory, f".{base}.shipdeck-{secrets.token_hex(6)}.tmp")
        connection = await self.connection(target)
        async with (
            self._slots,
            self._mapped_errors(
                target, f"writing {path}", timeout_s, asyncssh.SFTPError, f"writing {path} failed"
            ),
            asyncio.timeout(timeout_s),
            connection.start_sftp_client() as sftp,
        ):
            try:
                async with sftp.open(temp_path, "wb") as remote_file:
                    await remote_file.write(data)
                    with contextlib.suppress(asyncssh.SFTPError):
                        await remote_file.fsync()
                await sftp.chmod(temp_path, mode)
                await sftp.posix_rename(temp_path, path)
            except BaseException:
                with contextlib.suppress(Exception):
                    await sftp.remove(temp_path)
                raise

    async def open_tcp(
        self, target: SshTarget, host: str, port: int, *, timeout_s: float = 5.0
    ) -> tuple[asyncssh.SSHReader[bytes], asyncssh.SSHWriter[bytes]]:
        """A TCP stream to ``host:port`` as seen from the target (direct-tcpip),
        e.g. a health probe of a port bound to the host's loopback."""
        validate_address(target.name, host)
        validate_port(target.name, port)
        connection = await self.connection(target)
        what = f"opening TCP {host}:{port}"
        refused = f"cannot open TCP {host}:{port} on the host"
        async with (
            self._mapped_errors(target, what, timeout_s, asyncssh.ChannelOpenError, refused),
            asyncio.timeout(timeout_s),
        ):
            return await connection.open_connection(host, port, encoding=None)

    async def forward_unix_socket(
        self, target: SshTarget, remote_path: str, *, timeout_s: float = 10.0
    ) -> str:
        """Path of a local UNIX socket that reaches ``remote_path`` on the host.

        The forward is made once per connection and reused; after a reconnect
        it is re-made at the same local path, so clients holding the path keep
        working. Raises ``TargetUnreachable`` saying whether the remote socket
        is missing or refused, before handing out the path.
        """
        validate_remote_path(target.name, remote_path)
        key = (target, remote_path)
        lock = self._forward_locks.setdefault(key, asyncio.Lock())
        async with lock:
            connection = await self.connection(target)
            existing = self._forwards.get(key)
            if existing is not None and existing.connection is connection:
                return existing.local_path
            await self._probe_unix_socket(target, connection, remote_path, timeout_s)
            local_path = existing.local_path if existing else self._new_local_socket_path()
            with contextlib.suppress(FileNotFoundError):
                Path(local_path).unlink()
            try:
                listener = await connection.forward_local_path(local_path, remote_path)
            except (asyncssh.Error, OSError) as exc:
                raise self._lost(target, f"forwarding {remote_path}", exc) from exc
            self._forwards[key] = _Forward(connection, listener, local_path)
            return local_path

    async def close(self) -> None:
        """Close every forward and connection and remove the local sockets."""
        for forward in self._forwards.values():
            forward.listener.close()
        self._forwards.clear()
        connections = list(self._connections.values())
        self._connections.clear()
        for connection in connections:
            connection.close()
        for connection in connections:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.wait_closed(), 5.0)
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    async def _connect(self, target: SshTarget) -> asyncssh.SSHClientConnection:
        known_hosts, client_key = self._load_local_files(target)
        options: dict[str, Any] = {
            "host": target.address,
            "port": target.port,
            "username": target.user,
            "known_hosts": known_hosts,
            "config": None,
            "password_auth": False,
            "kbdint_auth": False,
            "gss_auth": False,
            "connect_timeout": target.connect_timeout_s,
            "login_timeout": target.connect_timeout_s,
            "keepalive_interval": self._keepalive_interval_s,
            "keepalive_count_max": self._keepalive_count_max,
        }
        if client_key is not None:
            options["client_keys"] = [client_key]
            options["agent_path"] = None
        try:
            async with asyncio.timeout(target.connect_timeout_s + 1.0):
                return await asyncssh.connect(**options)
        except asyncssh.HostKeyNotVerifiable:
            raise TargetUnreachable(target.name, self._host_key_refusal(target)) from None
        except asyncssh.PermissionDenied:
            key = target.identity_file or "the SSH agent's keys"
            raise TargetUnreachable(
                target.name,
                f"SSH login as {target.user!r} at {target.endpoint} refused with {key}",
            ) from None
        except TimeoutError:
            raise TargetUnreachable(
                target.name,
                f"SSH connect to {target.endpoint} timed out after {target.connect_timeout_s:g}s",
            ) from None
        except ConnectionRefusedError:
            raise TargetUnreachable(
                target.name, f"SSH connection refused at {target.endpoint} (is sshd running?)"
            ) from None
        except asyncssh.Error as exc:
            raise TargetUnreachable(
                target.name, f"SSH handshake with {target.endpoint} failed: {exc.reason}"
            ) from None
        except OSError as exc:
            raise TargetUnreachable(
                target.name, f"cannot reach {target.endpoint}: {exc.strerror or exc}"
            ) from None

    @staticmethod
    def _load_local_files(
        target: SshTarget,
    ) -> tuple[asyncssh.SSHKnownHosts, asyncssh.SSHKey | None]:
        """Parse known_hosts and the identity file before dialling, so a missing,
        malformed or passphrase-protected file is one clear line (bad input, not
        an unreachable host) instead of an error from deep inside the handshake."""
        if not target.known_hosts.is_file():
            raise InvalidTargetInput(
                target.name, f"known_hosts file {target.known_hosts} does not exist"
            )
        try:
            known_hosts = asyncssh.read_known_hosts(str(target.known_hosts))
        except (ValueError, OSError) as exc:
            raise InvalidTargetInput(
                target.name,
                f"known_hosts file {target.known_hosts} cannot be read: {_one_line(exc)}",
            ) from None
        if target.identity_file is None:
            return known_hosts, None
        if not target.identity_file.is_file():
            raise InvalidTargetInput(
                target.name, f"identity file {target.identity_file} does not exist"
            )
        try:
            key = asyncssh.read_private_key(str(target.identity_file))
        except asyncssh.KeyImportError as exc:
            cause = (
                "it is passphrase-protected (load it into ssh-agent and omit identity_file)"
                if "assphrase" in str(exc)
                else f"not a private key shipdeck can read ({_one_line(exc)})"
            )
            raise InvalidTargetInput(
                target.name, f"identity file {target.identity_file}: {cause}"
            ) from None
        except (ValueError, OSError) as exc:
            raise InvalidTargetInput(
                target.name,
                f"identity file {target.identity_file} cannot be read: {_one_line(exc)}",
            ) from None
        return known_hosts, key

    @staticmethod
    def _host_key_refusal(target: SshTarget) -> str:
        """Say whether the host is unknown or its key changed: they call for
        different actions (add it vs. investigate a possible impostor)."""
        try:
            known = asyncssh.read_known_hosts(str(target.known_hosts))
            matched = known.match(target.address, target.address, target.port)
            listed = bool(matched[0] or matched[1] or matched[3] or matched[5])
        except (asyncssh.Error, OSError, ValueError):
            listed = False
        why = (
            "host key does not match the one in" if listed else "host is not listed in known_hosts"
        )
        return f"refusing {target.endpoint}: {why} {target.known_hosts}"

    async def _probe_unix_socket(
        self,
        target: SshTarget,
        connection: asyncssh.SSHClientConnection,
        remote_path: str,
        timeout_s: float,
    ) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                _, writer = await connection.open_unix_connection(remote_path)
        except TimeoutError:
            raise TargetUnreachable(
                target.name, f"UNIX socket {remote_path} did not answer within {timeout_s:g}s"
            ) from None
        except asyncssh.ChannelOpenError as exc:
            exists = await self._remote_path_exists(connection, remote_path)
            if exists is False:
                raise TargetUnreachable(
                    target.name, f"UNIX socket {remote_path} does not exist on the host"
                ) from None
            raise TargetUnreachable(
                target.name, f"UNIX socket {remote_path} cannot be opened: {exc.reason}"
            ) from None
        except (asyncssh.Error, OSError) as exc:
            raise self._lost(target, f"opening {remote_path}", exc) from exc
        writer.close()

    @staticmethod
    async def _remote_path_exists(
        connection: asyncssh.SSHClientConnection, remote_path: str
    ) -> bool | None:
        """True/False via SFTP, None when that cannot be told."""
        try:
            async with asyncio.timeout(5.0), connection.start_sftp_client() as sftp:
                return bool(await sftp.exists(remote_path))
        except (asyncssh.Error, OSError, TimeoutError):
            return None

    @contextlib.asynccontextmanager
    async def _mapped_errors(
        self,
        target: SshTarget,
        what: str,
        timeout_s: float,
        refusal: type[asyncssh.Error],
        refused: str,
    ) -> AsyncIterator[None]:
        """Engine errors for one SSH operation: a timeout or the host's refusal is
        the operation failing; anything else means the connection was lost."""
        try:
            yield
        except TimeoutError:
            raise EngineOperationFailed(
                target.name, f"{what} timed out after {timeout_s:g}s"
            ) from None
        except refusal as exc:
            raise EngineOperationFailed(target.name, f"{refused}: {exc.reason}") from exc
        except (asyncssh.Error, OSError) as exc:
            raise self._lost(target, what, exc) from exc

    def _lost(self, target: SshTarget, what: str, exc: BaseException) -> TargetUnreachable:
        detail = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
        return TargetUnreachable(
            target.name, f"SSH connection to {target.endpoint} lost during {what}: {detail}"
        )

    def _forget_connection(self, target: SshTarget) -> None:
        self._connections.pop(target, None)
        for key, forward in list(self._forwards.items()):
            if key[0] == target and forward.connection.is_closed():
                forward.listener.close()

    def _new_local_socket_path(self) -> str:
        if self._socket_dir is None:
            self._socket_dir = Path(tempfile.mkdtemp(prefix="shipdeck-ssh-"))
        self._socket_counter += 1
        return str(self._socket_dir / f"{self._socket_counter}.sock")


def _tail(text: str, max_chars: int = 300) -> str:
    """The end of a process's output, on one line, for error messages."""
    flat = " | ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    if not flat:
        return "(no output)"
    return flat if len(flat) <= max_chars else "…" + flat[-max_chars:]


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:200]
