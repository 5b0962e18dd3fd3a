"""The state store on both backends: the embedded SQLite file and a private
PostgreSQL started once for the session (Debian ``postgresql``; a missing
server is a skip, a failure under SHIPDECK_REQUIRE_RIG=1).

Each test gets a fresh store: a new SQLite file, or a new empty database on
the shared server (``CREATE DATABASE`` from an empty template takes ~0.1 s).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.store import StateStore
from console.demo.rig.daemons import RigUnavailable
from console.demo.rig.postgres import RigPostgres
from tests.integration.store.helpers import open_at
from tests.require import missing

BACKENDS = ("sqlite", "postgresql")
_names = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[RigPostgres]:
    try:
        server = RigPostgres.start()
    except RigUnavailable as exc:
        missing(exc.component, exc.why)
        raise  # missing() never returns
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def empty_database(postgres: RigPostgres) -> str:
    """The URL of a new, empty database on the session's server."""
    return postgres.create_database(f"t{os.getpid()}_{next(_names)}")


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh store lives: an SQLite path or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "state.db")
    return str(request.getfixturevalue("empty_database"))


@pytest.fixture
def store(location: str) -> Iterator[StateStore]:
    opened = open_at(location)
    try:
        yield opened
    finally:
        opened.close()
