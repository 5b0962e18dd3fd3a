"""shipdeck feature flags: a TOML file, evaluated in-process.

    from console.flags import FlagFile

    flags = FlagFile("config/flags.toml", environment="production")
    if flags.enabled("new-checkout-flow", user_id=user.id):
        ...
    flags.evaluate("new-checkout-flow", {"user_id": user.id})  # value, reason, variant
    print(flags.explain("new-checkout-flow", user_id=user.id))  # the trace

Importing this package loads only the stdlib, ``mmh3`` and ``console.core.errors``:
applications evaluate flags without pulling in the console (Textual, docker,
asyncssh). The writer side (``FlagStore``: filelock, tomli-w), lifecycle, code
references and the OpenFeature provider load lazily on first attribute access.

Process overrides for the simplest setups: ``SHIPDECK_FLAG_<KEY>=on|off|<percent>``
(key upper-cased, ``-`` and ``.`` as ``_``) replaces the flag's state in that process:
``on`` = 100%, ``off`` = disabled, ``25`` = enabled at 25%. Deny/allow lists and
rules still apply. ``shipdeck flags list`` shows active overrides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from console.flags.evaluate import (
    DEFAULT,
    DISABLED,
    ERROR,
    FLAG_NOT_FOUND,
    GENERAL,
    SPLIT,
    STATIC,
    TARGETING_MATCH,
    Evaluation,
    Explanation,
    FlagFile,
    bucket,
)
from console.flags.model import (
    ENVIRONMENTS,
    FLAG_TYPES,
    STAGES,
    EnvironmentState,
    Flag,
    FlagSet,
    Override,
    Rule,
    override_variable,
    parse_flags,
)

if TYPE_CHECKING:
    from console.flags.lifecycle import StaleFinding, find_stale, new_flag
    from console.flags.openfeature_provider import ShipdeckProvider
    from console.flags.refs import Reference, scan_references
    from console.flags.store import FlagStore

_LAZY = {
    "FlagStore": "console.flags.store",
    "StaleFinding": "console.flags.lifecycle",
    "find_stale": "console.flags.lifecycle",
    "new_flag": "console.flags.lifecycle",
    "Reference": "console.flags.refs",
    "scan_references": "console.flags.refs",
    "ShipdeckProvider": "console.flags.openfeature_provider",
}

__all__ = [
    "DEFAULT",
    "DISABLED",
    "ENVIRONMENTS",
    "ERROR",
    "FLAG_NOT_FOUND",
    "FLAG_TYPES",
    "GENERAL",
    "SPLIT",
    "STAGES",
    "STATIC",
    "TARGETING_MATCH",
    "EnvironmentState",
    "Evaluation",
    "Explanation",
    "Flag",
    "FlagFile",
    "FlagSet",
    "FlagStore",
    "Override",
    "Reference",
    "Rule",
    "ShipdeckProvider",
    "StaleFinding",
    "bucket",
    "find_stale",
    "new_flag",
    "override_variable",
    "parse_flags",
    "scan_references",
]


def __getattr__(name: str) -> Any:
    """Load the writer-side modules only when asked for (keeps app imports cheap)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
