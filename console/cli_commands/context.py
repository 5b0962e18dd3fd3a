"""What every command handler gets: parsed args, output, config, store, clock."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path

from console.cli_commands.output import Output
from console.core.clock import Clock, operator_identity
from console.core.config import Config, default_state_path, load_config, locate_config
from console.core.errors import Blocked, InvalidInput
from console.core.store import StateStore, open_store
from console.core.text import printable


class CliContext:
    """Lazily loads config and store so commands that need neither stay fast."""

    def __init__(
        self, args: argparse.Namespace, output: Output | None = None, clock: Clock | None = None
    ) -> None:
        self.args = args
        self.json: bool = bool(getattr(args, "json", False))
        self.out = output or Output(self.json)
        self.clock = clock or Clock()
        self.operator = operator_identity()
        self._config: Config | None = None
        self._config_loaded = False
        self._store: StateStore | None = None

    def now(self) -> datetime:
        return self.clock.now()

    def config_path(self) -> Path | None:
        return locate_config(getattr(self.args, "config", None))

    def config_or_none(self) -> Config | None:
        """The config if one is found (invalid config still raises)."""
        if not self._config_loaded:
            path = self.config_path()
            if path is not None:
                self._config = load_config(path)
            self._config_loaded = True
        return self._config

    def config(self) -> Config:
        config = self.config_or_none()
        if config is None:
            raise InvalidInput(
                "no config found: pass --config PATH, set SHIPDECK_CONFIG, or create ./shipdeck.toml"
            )
        return config

    def state_path(self) -> Path:
        explicit = getattr(self.args, "state", None)
        if explicit:
            return Path(explicit)
        config = self.config_or_none()
        if config is not None:
            return config.state_path
        return default_state_path()

    def store(self) -> StateStore:
        if self._store is None:
            self._store = open_store(self.state_path())
        return self._store

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
        if self._store is not None:
            self._store.close()
            self._store = None

    @staticmethod
    def environ(name: str, default: str = "") -> str:
        return os.environ.get(name, default)
