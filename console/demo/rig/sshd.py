"""Rig SSH hosts: one OpenSSH ``sshd`` per host on its own loopback port.

Each host has its own ed25519 host key; the client logs in as root with the
rig's ed25519 key only (no passwords), and may forward TCP and UNIX sockets
(``local`` only) — what shipdeck needs to reach dockerd and probe ports.
``kill()`` drops the listener and every open connection at once, which is what
a host dying mid-operation looks like from the client.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from console.demo.rig.daemons import DaemonProcess, RigUnavailable, find_binary, free_port

LISTEN_ADDRESS = "127.0.0.1"
START_TIMEOUT_S = 15.0
PRIVILEGE_SEPARATION_DIR = Path("/run/sshd")


def generate_key_pair(private_key_path: Path) -> str:
    """Write a fresh ed25519 private key (0600, OpenSSH format) and its ``.pub``;
    return the public key line."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    private_key_path.parent.mkdir(parents=True, exist_ok=True)
    key.write_private_key(str(private_key_path))
    os.chmod(private_key_path, 0o600)
    public_line = key.export_public_key().decode().strip()
    private_key_path.with_suffix(".pub").write_text(public_line + "\n")
    return public_line


def known_hosts_line(port: int, public_key_line: str) -> str:
    """The known_hosts entry OpenSSH and asyncssh match for a non-default port."""
    return f"[{LISTEN_ADDRESS}]:{port} {public_key_line}"


def banner_answers(port: int) -> bool:
    """Whether an SSH server greets on the port (not just accepts TCP)."""
    try:
        with socket.create_connection((LISTEN_ADDRESS, port), timeout=1.0) as connection:
            return connection.recv(64).startswith(b"SSH-2.0")
    except OSError:
        return False


@dataclass
class SshdHost:
    """One sshd instance; files live in a private (0700) directory of its own."""

    name: str
    directory: Path
    port: int
    host_public_key: str
    process: DaemonProcess | None = None

    @classmethod
    def create(cls, name: str, directory: Path, authorized_key: str) -> SshdHost:
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        host_public_key = generate_key_pair(directory / "ssh_host_ed25519_key")
        (directory / "authorized_keys").write_text(authorized_key + "\n")
        os.chmod(directory / "authorized_keys", 0o600)
        return cls(name, directory, free_port(LISTEN_ADDRESS), host_public_key)

    @property
    def address(self) -> str:
        return LISTEN_ADDRESS

    @property
    def known_hosts_line(self) -> str:
        return known_hosts_line(self.port, self.host_public_key)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.alive()

    def start(self, *, may_change_port: bool = False) -> None:
        """Start sshd and wait for its greeting. A port taken in the meantime is
        replaced by another only when ``may_change_port`` (first start)."""
        binary = find_binary("sshd", "openssh-server")
        if os.geteuid() != 0:
            raise RigUnavailable("sshd", "the rig's sshd logs in as root and must run as root")
        PRIVILEGE_SEPARATION_DIR.mkdir(mode=0o755, exist_ok=True)
        attempts = 3 if may_change_port else 1
        for attempt in range(attempts):
            if attempt:
                self.port = free_port(LISTEN_ADDRESS)
            config = self._write_config()
            process = DaemonProcess.start(
                f"sshd {self.name}",
                [binary, "-D", "-e", "-f", str(config)],
                self.directory / "sshd.log",
            )
            try:
                process.wait_ready(lambda: banner_answers(self.port), "greeting", START_TIMEOUT_S)
            except RigUnavailable:
                process.stop()
                if attempt == attempts - 1:
                    raise
                continue
            self.process = process
            return

    def stop(self) -> None:
        """Stop sshd and close its open connections."""
        if self.process is not None:
            self.process.stop(timeout_s=5.0)
            self.process = None

    def kill(self) -> None:
        """SIGKILL sshd and all its connections at once (a dead host)."""
        if self.process is not None:
            self.process.kill()
            self.process = None

    def _write_config(self) -> Path:
        config = self.directory / "sshd_config"
        config.write_text(
            "\n".join(
                (
                    f"ListenAddress {LISTEN_ADDRESS}:{self.port}",
                    f"HostKey {self.directory / 'ssh_host_ed25519_key'}",
                    f"AuthorizedKeysFile {self.directory / 'authorized_keys'}",
                    f"PidFile {self.directory / 'sshd.pid'}",
                    "PermitRootLogin prohibit-password",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    # The rig's directory may sit under world-writable /tmp.
                    "StrictModes no",
                    "AllowTcpForwarding local",
                    "AllowStreamLocalForwarding local",
                    "AllowAgentForwarding no",
                    "X11Forwarding no",
                    "PermitTunnel no",
                    "GatewayPorts no",
                    "PrintMotd no",
                    "MaxSessions 100",
                    "MaxStartups 100:30:200",
                    "Subsystem sftp internal-sftp",
                    "LogLevel ERROR",
                    "",
                )
            )
        )
        return config
