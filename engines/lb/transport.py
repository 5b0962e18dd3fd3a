"""Where an LB lives: on the console's machine, or on a host reached over SSH.

The writers only ever read/write files, run argv lists (never a shell string),
send one command to a UNIX socket (the HAProxy runtime/master APIs, not HTTP)
and make plain HTTP GETs (through ``engines.http``, shipdeck's one HTTP
client); each transport does those things locally or through one SSH
connection, so the same writer drives a local LB and a remote one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shlex
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import Any, Protocol, cast

import asyncssh

from engines.errors import EngineOperationFailed, TargetUnreachable
from engines.http import TcpOpener, host_header, http_get

MAX_SOCKET_REPLY_BYTES = 4 * 1024 * 1024
StreamOpener = Callable[[], Awaitable[tuple[Any, Any]]]


class Transport(Protocol):
    """What an LB writer needs from the machine the LB runs on."""

    name: str

    async def read_file(self, path: Path) -> bytes | None: ...

    async def write_file_atomic(self, path: Path, data: bytes) -> None: ...

    async def rename(self, src: Path, dst: Path) -> None: ...

    async def remove(self, path: Path) -> None: ...

    async def list_dir(self, path: Path) -> list[str]: ...

    async def run(self, argv: list[str], timeout_s: float) -> tuple[int, str, str]: ...

    async def http_get(
        self, address: str, port: int, path: str, timeout_s: float
    ) -> tuple[int, dict[str, str]]: ...

    async def socket_command(self, path: Path, command: str, timeout_s: float) -> str: ...


def temp_path_beside(path: Path) -> Path:
    """A hidden, unique name in the target's directory that no include glob
    (``*.conf``, HAProxy's ``*.cfg`` directory scan) ever picks up."""
    return path.with_name(f".{path.name}.tmp-{secrets.token_hex(6)}")


def _check_argv(argv: list[str]) -> list[str]:
    if isinstance(argv, (str, bytes)) or not argv:
        raise ValueError("argv must be a non-empty list of strings, never a shell string")
    for element in argv:
        if not isinstance(element, str) or "\0" in element:
            raise ValueError(f"argv element {element!r} is not a NUL-free string")
    return list(argv)


def _check_socket_command(command: str) -> str:
    if not command or any(c in command for c in "\r\n\0"):
        raise ValueError(f"socket command {command!r} must be one non-empty line")
    return command


async def _http_get_over(
    opener: TcpOpener | None, target: str, address: str, port: int, path: str, timeout_s: float
) -> tuple[int, dict[str, str]]:
    """Status and headers of one GET on a fresh connection (``engines.http``
    never keeps one), so every call reaches whichever LB worker accepts new
    connections right now. The body is not read."""
    response = await http_get(
        address,
        port,
        path,
        timeout_s=timeout_s,
        opener=opener,
        target_name=f"{target} {host_header(address, port)}",
        read_body=False,
    )
    return response.status, response.headers


async def _socket_command_over(
    opener: StreamOpener, target: str, path: Path, command: str, timeout_s: float
) -> str:
    """Send one command line to a UNIX stream socket and read the reply to EOF
    (HAProxy's stats and master sockets answer, then close, in non-interactive mode)."""
    _check_socket_command(command)
    name = f"{target} {path}"
    chunks: list[bytes] = []
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await opener()
            try:
                writer.write((command + "\n").encode())
                # HAProxy's master CLI only answers and closes once it sees our EOF.
                with contextlib.suppress(OSError, NotImplementedError, asyncssh.Error):
                    writer.write_eof()
                size = 0
                while size < MAX_SOCKET_REPLY_BYTES:
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                    if isinstance(chunk, str):
                        chunk = chunk.encode()
                    chunks.append(chunk)
                    size += len(chunk)
            finally:
                writer.close()
    except TimeoutError:
        raise TargetUnreachable(
            name, f"{command.split()[0]!r} timed out after {timeout_s:g}s"
        ) from None
    except (OSError, asyncssh.Error) as error:
        raise TargetUnreachable(name, f"cannot talk to the socket: {error}") from None
    return b"".join(chunks).decode("utf-8", errors="replace")


class LocalTransport:
    """The LB runs on this machine: files via the OS, commands via exec (no shell)."""

    def __init__(self, name: str = "local") -> None:
        self.name = name

    async def read_file(self, path: Path) -> bytes | None:
        try:
            return await asyncio.to_thread(Path(path).read_bytes)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise EngineOperationFailed(self.name, f"cannot read {path}: {error}") from None

    async def write_file_atomic(self, path: Path, data: bytes) -> None:
        """Temp file beside the target, fsync, rename over it, fsync the directory:
        a reader sees the old file or the new one, never a torn one."""
        try:
            await asyncio.to_thread(self._write_atomic, Path(path), data)
        except OSError as error:
            raise EngineOperationFailed(self.name, f"cannot write {path}: {error}") from None

    @staticmethod
    def _write_atomic(path: Path, data: bytes) -> None:
        temp = temp_path_beside(path)
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    async def rename(self, src: Path, dst: Path) -> None:
        try:
            await asyncio.to_thread(os.replace, src, dst)
        except OSError as error:
            raise EngineOperationFailed(
                self.name, f"cannot rename {src} to {dst}: {error}"
            ) from None

    async def remove(self, path: Path) -> None:
        try:
            await asyncio.to_thread(Path(path).unlink, True)
        except OSError as error:
            raise EngineOperationFailed(self.name, f"cannot remove {path}: {error}") from None

    async def list_dir(self, path: Path) -> list[str]:
        try:
            return sorted(await asyncio.to_thread(os.listdir, path))
        except OSError as error:
            raise EngineOperationFailed(self.name, f"cannot list {path}: {error}") from None

    async def run(self, argv: list[str], timeout_s: float) -> tuple[int, str, str]:
        argv = _check_argv(argv)
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as error:
            raise EngineOperationFailed(self.name, f"cannot run {argv[0]}: {error}") from None
        try:
            async with asyncio.timeout(timeout_s):
                stdout, stderr = await process.communicate()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(process.wait(), 5.0)
            raise TargetUnreachable(
                self.name, f"{shlex.join(argv)} timed out after {timeout_s:g}s"
            ) from None
        return (
            process.returncode if process.returncode is not None else -1,
            stdout.decode("utf-8", errors="replace"),
            stderr.decode("utf-8", errors="replace"),
        )

    async def http_get(
        self, address: str, port: int, path: str, timeout_s: float
    ) -> tuple[int, dict[str, str]]:
        return await _http_get_over(
            None,
            self.name,
            address,
            port,
            path,
            timeout_s,
        )

    async def socket_command(self, path: Path, command: str, timeout_s: float) -> str:
        return await _socket_command_over(
            lambda: asyncio.open_unix_connection(str(path)), self.name, path, command, timeout_s
        )


class SshTransport:
    """The LB runs on a host we reach over an established asyncssh connection:
    files over SFTP, commands as ``shlex.join(argv)`` (each word quoted, so the
    remote shell runs exactly that argv), HTTP and UNIX sockets tunnelled."""

    def __init__(self, conn: asyncssh.SSHClientConnection, name: str | None = None) -> None:
        self.conn = conn
        peer = conn.get_extra_info("peername")
        self.name = name or (f"ssh {peer[0]}:{peer[1]}" if peer else "ssh")
        self._sftp: asyncssh.SFTPClient | None = None
        self._sftp_lock = asyncio.Lock()

    async def _client(self) -> asyncssh.SFTPClient:
        async with self._sftp_lock:
            if self._sftp is None:
                try:
                    self._sftp = await self.conn.start_sftp_client()
                except (OSError, asyncssh.Error) as error:
                    raise TargetUnreachable(self.name, f"cannot start SFTP: {error}") from None
            return self._sftp

    def _failed(self, what: str, error: BaseException) -> Exception:
        if isinstance(error, asyncssh.SFTPError) and not isinstance(
            error, asyncssh.SFTPConnectionLost
        ):
            return EngineOperationFailed(self.name, f"{what}: {error}")
        self._sftp = None
        return TargetUnreachable(self.name, f"{what}: {error}")

    async def read_file(self, path: Path) -> bytes | None:
        sftp = await self._client()
        try:
            async with sftp.open(str(PurePosixPath(path)), "rb") as handle:
                # Read to EOF in chunks: files under /proc report size 0, and
                # a plain read() would trust that size.
                chunks: list[bytes] = []
                while chunk := await handle.read(65536):
                    # asyncssh types read() as AnyStr; a file opened "rb" returns bytes.
                    chunks.append(cast(bytes, chunk))
                return b"".join(chunks)
        except asyncssh.SFTPNoSuchFile:
            return None
        except (OSError, asyncssh.Error) as error:
            raise self._failed(f"cannot read {path}", error) from None

    async def write_file_atomic(self, path: Path, data: bytes) -> None:
        sftp = await self._client()
        target = str(PurePosixPath(path))
        temp = str(temp_path_beside(PurePosixPath(path)))  # type: ignore[arg-type]
        try:
            try:
                mode = (await sftp.stat(target)).permissions
                mode = (mode & 0o777) if mode is not None else 0o644
            except asyncssh.SFTPNoSuchFile:
                mode = 0o644
            attrs = asyncssh.SFTPAttrs(permissions=mode)
            async with sftp.open(temp, "wb", attrs) as handle:
                await handle.write(data)
                with contextlib.suppress(asyncssh.SFTPOpUnsupported):
                    await handle.fsync()
            await sftp.posix_rename(temp, target)
        except (OSError, asyncssh.Error) as error:
            with contextlib.suppress(OSError, asyncssh.Error):
                await sftp.remove(temp)
            raise self._failed(f"cannot write {path}", error) from None

    async def rename(self, src: Path, dst: Path) -> None:
        sftp = await self._client()
        try:
            await sftp.posix_rename(str(PurePosixPath(src)), str(PurePosixPath(dst)))
        except (OSError, asyncssh.Error) as error:
            raise self._failed(f"cannot rename {src} to {dst}", error) from None

    async def remove(self, path: Path) -> None:
        sftp = await self._client()
        try:
            await sftp.remove(str(PurePosixPath(path)))
        except asyncssh.SFTPNoSuchFile:
            return
        except (OSError, asyncssh.Error) as error:
            raise self._failed(f"cannot remove {path}", error) from None

    async def list_dir(self, path: Path) -> list[str]:
        sftp = await self._client()
        try:
            names = await sftp.listdir(str(PurePosixPath(path)))
        except (OSError, asyncssh.Error) as error:
            raise self._failed(f"cannot list {path}", error) from None
        return sorted(_text(name) for name in names if _text(name) not in (".", ".."))

    async def run(self, argv: list[str], timeout_s: float) -> tuple[int, str, str]:
        command = shlex.join(_check_argv(argv))
        try:
            result = await self.conn.run(command, check=False, timeout=timeout_s)
        except asyncssh.TimeoutError:
            raise TargetUnreachable(
                self.name, f"{command} timed out after {timeout_s:g}s"
            ) from None
        except (OSError, asyncssh.Error) as error:
            raise TargetUnreachable(self.name, f"cannot run {command}: {error}") from None
        status = result.exit_status if result.exit_status is not None else -1
        return status, _text(result.stdout), _text(result.stderr)

    async def http_get(
        self, address: str, port: int, path: str, timeout_s: float
    ) -> tuple[int, dict[str, str]]:
        return await _http_get_over(
            self._open_tcp,
            self.name,
            address,
            port,
            path,
            timeout_s,
        )

    async def _open_tcp(self, host: str, port: int, timeout_s: float) -> tuple[Any, Any]:
        """A TCP stream opened by the LB's host (direct-tcpip), for ``engines.http``."""
        async with asyncio.timeout(timeout_s):
            return await self.conn.open_connection(host, port, encoding=None)

    async def socket_command(self, path: Path, command: str, timeout_s: float) -> str:
        return await _socket_command_over(
            lambda: self.conn.open_unix_connection(str(PurePosixPath(path)), encoding=None),
            self.name,
            path,
            command,
            timeout_s,
        )


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
