"""What every command handler gets: parsed args, output, config, store, clock."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path

from console.cli_commands.output import Output
from console.core.clock import Clock
from console.core.config import Config
from console.core.errors import Blocked
from console.core.session import Session
from console.core.store import StateStore
from console.core.text import printable


class CliContext:
    """A command's parsed args and output over the process's ``Session``."""

    def __init__(
        self, args: argparse.Namespace, output: Output | None = None, clock: Clock | None = None
    ) -> None:
        self.args = args
        self.json: bool = bool(getattr(args, "json", False))
        self.out = output or Output(self.json)
        self.session = Session(getattr(args, "config", None), getattr(args, "state", None), clock)
        self.clock = self.session.clock
        self.operator = self.session.operator

    def now(self) -> datetime:
        return self.clock.now()

    def config_path(self) -> Path | None:
        return self.session.config_path()

    def config_or_none(self) -> Config | None:
        """The config if one is found (invalid config still raises)."""
        return self.session.config_or_none()

    def config(self) -> Config:
        return self.session.config()

    def state_path(self) -> Path:
        return self.session.state_path()

    def store(self) -> StateStore:
        return self.session.store()

    def confirm(self, action: str) -> None:
        """Destructive commands need ``--yes`` when stdin is not a terminal."""
        if getattr(self.args, "yes", False):
            return
        if not sys.stdin.isatty():
            raise Blocked(f"{action}: confirmation required: pass --yes (stdin is not a terminal)")
        answer = input(f"{printable(action)}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            raise Blocked(f"{action}: not confirmed")

    def close(self) -> None:
        self.session.close()

    @staticmethod
    def environ(name: str, default: str = "") -> str:
        return os.environ.get(name, default)
