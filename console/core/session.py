"""Where a shipdeck process finds its config, state store and operator.

Both faces start from here: the CLI for each command, the console once. The
lookup order is documented in the README (``--config``, ``$SHIPDECK_CONFIG``,
``./shipdeck.toml``, ``./config/shipdeck.toml``; ``--state``, the config's
``state_path``, ``$XDG_STATE_HOME``). A shared PostgreSQL store comes first
when one is named (``$SHIPDECK_STATE_URL``, else the config's ``state_url``),
unless ``--state PATH`` forces the SQLite file. Loading is lazy, so commands
that need neither a config nor a store stay fast.
"""

from __future__ import annotations

import os
from pathlib import Path

from console.core.clock import Clock, operator_identity
from console.core.config import Config, default_state_path, load_config, locate_config
from console.core.config.loader import check_state_url
from console.core.errors import InvalidInput
from console.core.store import StateStore, open_shared_store, open_store

STATE_URL_ENV = "SHIPDECK_STATE_URL"


class Session:
    """The config, store, clock and operator of one process (or one command)."""

    def __init__(
        self,
        config_path: str | None = None,
        state_path: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._explicit_config = config_path
        self._explicit_state = state_path
        self.clock = clock or Clock()
        self.operator = operator_identity()
        self._config: Config | None = None
        self._config_loaded = False
        self._store: StateStore | None = None

    def config_path(self) -> Path | None:
        return locate_config(self._explicit_config)

    def config_or_none(self) -> Config | None:
        """The config if one is found (an invalid config still raises)."""
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
        if self._explicit_state:
            return Path(self._explicit_state)
        config = self.config_or_none()
        if config is not None:
            return config.state_path
        return default_state_path()

    def state_url(self) -> str | None:
        """The shared store's URL, or None for the SQLite file (``--state`` forces it)."""
        if self._explicit_state:
            return None
        url = os.environ.get(STATE_URL_ENV, "")
        if url:
            cause = check_state_url(url)
            if cause:
                raise InvalidInput(f"{STATE_URL_ENV}: {cause}")
            return url
        config = self.config_or_none()
        return config.state_url if config is not None else None

    def store(self) -> StateStore:
        """The one place both faces open the store: PostgreSQL if a URL is named, else SQLite."""
        if self._store is None:
            url = self.state_url()
            self._store = open_shared_store(url) if url else open_store(self.state_path())
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
