"""A private PostgreSQL (Debian ``postgresql``) on a free loopback port, for
the shared state store's tests and a team-mode demo.

``initdb`` into a directory of its own, ``pg_ctl start`` on 127.0.0.1 with the
unix socket in that directory (so it never clashes with a system cluster), one
database created; ``stop`` shuts it down fast and removes the directory. As
root the server tools run as the ``postgres`` user (``runuser``), which is
why the directory is made here, under the system temp directory (the caller's
work directory may be private to root), and handed to that user. Logins:
``postgres`` over TCP without a password; any other role needs its password
(scram), so a wrong password really is refused.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from console.demo.rig.daemons import RigUnavailable, free_port, port_answers

START_TIMEOUT_S = 30.0
SERVER_USER = "postgres"
DATABASE = "shipdeck"
_HBA = (
    "local all all trust\n"
    "host all postgres 127.0.0.1/32 trust\n"
    "host all all 127.0.0.1/32 scram-sha-256\n"
)


def server_binary(name: str) -> str:
    """A PostgreSQL server tool: Debian keeps them in /usr/lib/postgresql/N/bin."""
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    path = candidates[-1] if candidates else shutil.which(name)
    if path is None:
        raise RigUnavailable(name, f"{name} is not installed (apt-get install postgresql)")
    return path


@dataclass
class RigPostgres:
    """A running private server; ``url(user)`` is a password-less URL for it."""

    directory: Path
    port: int
    as_root: bool

    @classmethod
    def start(cls) -> RigPostgres:
        initdb, pg_ctl = server_binary("initdb"), server_binary("pg_ctl")
        as_root = os.geteuid() == 0
        if as_root:
            try:
                account = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise RigUnavailable("postgresql", f"no {SERVER_USER} user to run it as") from None
            if shutil.which("runuser") is None:
                raise RigUnavailable("postgresql", "runuser is not installed (util-linux)")
        directory = Path(tempfile.mkdtemp(prefix="shipdeck-pg-"))
        if as_root:
            os.chown(directory, account.pw_uid, account.pw_gid)
        last_error: RigUnavailable | None = None
        for _ in range(3):  # a free port can be taken between probing and binding
            server = cls(directory, free_port(), as_root)
            try:
                server._initdb(initdb)
                server._run(
                    pg_ctl,
                    "-D",
                    str(directory / "data"),
                    "-l",
                    str(directory / "server.log"),
                    "-w",
                    "-t",
                    str(int(START_TIMEOUT_S)),
                    "-o",
                    f"-p {server.port} -k {directory} -c listen_addresses=127.0.0.1"
                    " -c fsync=off -c full_page_writes=off -c synchronous_commit=off",
                    "start",
                )
                if not port_answers("127.0.0.1", server.port):
                    raise RigUnavailable("postgresql", f"not answering on port {server.port}")
                server._run(
                    server_binary("createdb"), "-h", str(directory), "-p", str(server.port),
                    "-U", "postgres", DATABASE,
                )  # fmt: skip
            except RigUnavailable as error:
                server._stop_server()
                last_error = error
                continue
            return server
        shutil.rmtree(directory, ignore_errors=True)
        assert last_error is not None
        raise last_error

    def url(self, user: str = "postgres", database: str = DATABASE) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = DATABASE) -> str:
        """Run one statement as the superuser over the socket; its output."""
        return self._run(
            server_binary("psql"), "-h", str(self.directory), "-p", str(self.port),
            "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-Atqc", statement,
        )  # fmt: skip

    def create_database(self, name: str, owner: str = "postgres") -> str:
        """A new empty database owned by ``owner``; its URL as that role."""
        self.sql(f'CREATE DATABASE "{name}" OWNER "{owner}"')
        return self.url(owner, database=name)

    def create_role(self, name: str, password: str) -> None:
        """A login role that must give ``password`` over TCP, owning nothing."""
        quoted = password.replace("'", "''")
        self.sql(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{quoted}'")

    def stop(self) -> None:
        self._stop_server()
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- plumbing ---------------------------------------------------------------

    def _initdb(self, initdb: str) -> None:
        data = self.directory / "data"
        if (data / "PG_VERSION").exists():
            return
        self._run(
            initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"
        )
        hba = data / "pg_hba.conf"
        hba.write_text(_HBA)
        if self.as_root:
            account = pwd.getpwnam(SERVER_USER)
            os.chown(hba, account.pw_uid, account.pw_gid)

    def _run(self, *argv: str) -> str:
        command = ["runuser", "-u", SERVER_USER, "--", *argv] if self.as_root else list(argv)
        try:
            done = subprocess.run(  # argv list, no shell
                command,
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT_S + 10,
                cwd=self.directory,
                env={**os.environ, "LC_ALL": "C", "PGPASSWORD": ""},
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise RigUnavailable("postgresql", f"{Path(argv[0]).name}: {error}") from None
        if done.returncode != 0:
            why = (done.stderr or done.stdout).strip().splitlines()
            raise RigUnavailable(
                "postgresql",
                f"{Path(argv[0]).name} failed ({done.returncode}): {' | '.join(why[-5:])}"
                + f" | log: {self._log_tail()}",
            )
        return done.stdout

    def _log_tail(self) -> str:
        try:
            lines = (self.directory / "server.log").read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(lines[-5:]) or "(empty log)"

    def _stop_server(self) -> None:
        """``pg_ctl stop -m fast``; if that fails, SIGKILL the postmaster it recorded."""
        pid_file = self.directory / "data" / "postmaster.pid"
        if not pid_file.exists():
            return
        with contextlib.suppress(RigUnavailable):
            self._run(
                server_binary("pg_ctl"),
                "-D",
                str(self.directory / "data"),
                "-m",
                "fast",
                "-w",
                "stop",
            )
            return
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)


__all__ = ["RigPostgres", "RigUnavailable"]
