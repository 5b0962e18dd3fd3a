"""How a missing rig component is reported: a skip on a developer's laptop,
a failure in CI (``SHIPDECK_REQUIRE_RIG=1``), so CI can never go green by
skipping what it was meant to prove. It lives with the tests, not with the rig
(``console/demo/rig``), because it is pytest's: the installed product never imports it."""

from __future__ import annotations

import os
import shutil

import pytest


def rig_required() -> bool:
    return os.environ.get("SHIPDECK_REQUIRE_RIG", "") not in ("", "0", "false")


def missing(component: str, why: str) -> None:
    """Skip, or fail under SHIPDECK_REQUIRE_RIG=1, naming what is missing."""
    message = f"rig component {component} unavailable: {why}"
    if rig_required():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def need_binary(name: str) -> str:
    """Path of a system binary the rig needs, or skip/fail."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)), None
    )
    if path is None:
        missing(name, f"{name} not installed (apt-get install the package providing it)")
    return path  # type: ignore[return-value]
