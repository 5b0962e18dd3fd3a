"""Starting, watching and stopping the rig's daemons (dockerd, sshd, registry).

Plain Python, no pytest: the demo and the benchmarks start the rig too. A
component that cannot run raises ``RigUnavailable``; the test fixtures turn that
into a skip, or a failure under ``SHIPDECK_REQUIRE_RIG=1``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class RigUnavailable(Exception):
    """A rig component is missing or would not start; says which and why."""

    def __init__(self, component: str, why: str) -> None:
        super().__init__(f"rig component {component} unavailable: {why}")
        self.component = component
        self.why = why


def find_binary(name: str, package: str) -> str:
    """Path of a system binary (also looked up in sbin, which root's PATH may lack)."""
    path = shutil.which(name) or next(
        (
            p
            for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}", f"/sbin/{name}")
            if os.path.exists(p)
        ),
        None,
    )
    if path is None:
        raise RigUnavailable(name, f"{name} is not installed (apt-get install {package})")
    return path


def free_port(address: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def port_answers(address: str, port: int, timeout_s: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((address, port), timeout_s):
        return True
    return False


@dataclass
class DaemonProcess:
    """One background daemon we started, in its own session, logging to a file."""

    component: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(
        cls,
        component: str,
        argv: list[str],
        log_path: Path,
        *,
        env: dict[str, str] | None = None,
    ) -> DaemonProcess:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(  # argv list, no shell
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
        return cls(component, popen, log_path)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:]) or "(empty log)"

    def wait_ready(self, ready: Callable[[], bool], what: str, timeout_s: float) -> None:
        """Poll ``ready`` until true; fail naming the component, with its log tail,
        if the process dies or the time runs out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready():
                return
            if not self.alive():
                raise RigUnavailable(
                    self.component,
                    f"exited with status {self.popen.returncode} before {what}: {self.log_tail()}",
                )
            time.sleep(0.05)
        self.stop()
        raise RigUnavailable(self.component, f"not {what} after {timeout_s:g}s: {self.log_tail()}")

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM the daemon (it shuts its own children down), then SIGKILL
        whatever it forked that is still there."""
        family = descendants_of(self.pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        for process in family:
            process.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5.0)

    def kill(self) -> None:
        """SIGKILL the daemon and every process it forked at once: what a host
        that dies looks like to a client (connections drop, nothing answers)."""
        family = descendants_of(self.pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        for process in family:
            process.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5.0)


@dataclass(frozen=True)
class ProcessIdentity:
    """A pid plus its start time, so a pid reused by another process is never signalled."""

    pid: int
    start_ticks: int

    def signal(self, signum: int) -> None:
        if _start_ticks(self.pid) != self.start_ticks:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signum)


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name, which is in parentheses and may contain spaces.
    return stat.rsplit(")", 1)[1].split()


def _start_ticks(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def descendants_of(root_pid: int) -> list[ProcessIdentity]:
    """All processes below ``root_pid`` (sshd's per-connection children call
    setsid, so a process-group kill would miss them)."""
    children: dict[int, list[ProcessIdentity]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is None:
            continue
        identity = ProcessIdentity(int(entry.name), int(fields[19]))
        children.setdefault(int(fields[1]), []).append(identity)
    found: list[ProcessIdentity] = []
    pending = [root_pid]
    while pending:
        pid = pending.pop()
        for child in children.get(pid, []):
            found.append(child)
            pending.append(child.pid)
    return found
