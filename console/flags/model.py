"""What a feature flag is, how it is spelled in TOML, and how a bad one is reported.

The flags file is edited by humans and by ``shipdeck flags``; both must agree on
one strict schema, so a typo (``producton_percent``) is an error with a file:line,
not a silently ignored key that leaves a flag off. Everything here is immutable:
a change is a new ``Flag`` built with ``dataclasses.replace`` and written by the
store; evaluation compiles these objects once per file version.

The layout is one TOML table per flag with sorted keys; environment state is
flattened into ``<env>_enabled`` / ``<env>_percent`` / ``<env>_changed_at`` so a
flip is a one-line diff. tomli-w drops comments, so anything a human must keep
about a flag lives in fields (``description``, ``notes``), never in comments.

Imports stay stdlib-only (plus ``console.core.errors`` and ``console.core.text``,
both dependency-free): applications import this
through ``console.flags`` and must not pay for the console.
"""

from __future__ import annotations

import os
import re
import stat
import time
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from console.core.errors import ConfigInvalid, InvalidInput
from console.core.text import printable

KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
FLAG_TYPES = ("release", "experiment", "operational", "kill-switch", "permission")
STAGES = ("created", "develop", "test", "rollout", "complete", "archived")
ENVIRONMENTS = ("staging", "production")
RULE_OPS = ("equals", "in", "semver_eq", "semver_gt", "semver_gte", "semver_lt", "semver_lte")
DEFAULT_STICKINESS = "user_id"
FILE_VERSION = 1
OVERRIDE_PREFIX = "SHIPDECK_FLAG_"
# A flags file is a few KiB; anything past this is a mistake (or /dev/zero), not flags.
MAX_FILE_BYTES = 4 * 1024 * 1024
# Reading a FIFO or device gives up after this long instead of hanging the caller.
READ_TIMEOUT_S = 2.0
# One problem per line is useful; a 4 MiB file of typos is not 100k lines of stderr.
MAX_PROBLEMS = 20
# Long enough for any real value, short enough that a message stays one readable line.
_SHOWN_CHARS = 80
# Longer than any real version; bounds the work (and int() digits) per context value.
_SEMVER_MAX_CHARS = 256
# ``on``/``off``/``100%`` are short: a longer value is a mistake, never parsed.
_OVERRIDE_MAX_CHARS = 32
# ASCII digits only: str.isdigit() also accepts "²" and other digits int() refuses.
_OVERRIDE_PERCENT = re.compile(r"[0-9]{1,3}%?", re.ASCII)

_ATTRIBUTE_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
_SEMVER = re.compile(
    r"v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?",
    re.ASCII,  # "\d" would match other scripts' digits; context values are untrusted
)


# -- value objects ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """A condition on one context attribute; all of a flag's rules must hold (AND).

    ``values`` holds one value for ``equals`` and the ``semver_*`` comparisons and
    one or more for ``in``. Values are strings: context values are compared as
    ``str(value)`` so ``plan_tier=3`` matches ``"3"`` without TOML type games.
    """

    attribute: str
    op: str
    values: tuple[str, ...]

    def describe(self) -> str:
        if self.op == "in":
            return f"{self.attribute} in [{', '.join(self.values)}]"
        symbol = {
            "equals": "==",
            "semver_eq": "==semver",
            "semver_gt": ">semver",
            "semver_gte": ">=semver",
            "semver_lt": "<semver",
            "semver_lte": "<=semver",
        }[self.op]
        return f"{self.attribute} {symbol} {self.values[0]}"

    def to_dict(self) -> dict[str, Any]:
        if self.op == "in":
            return {"attribute": self.attribute, "op": self.op, "values": list(self.values)}
        return {"attribute": self.attribute, "op": self.op, "value": self.values[0]}


@dataclass(frozen=True, slots=True)
class EnvironmentState:
    """One environment's own switch and rollout; ``changed_at`` dates the last flip.

    ``changed_at`` is what stale detection reads to know how long a flag has been
    fully on: the state has not changed since then.
    """

    enabled: bool = False
    percent: int = 0
    changed_at: datetime | None = None

    @property
    def fully_on(self) -> bool:
        return self.enabled and self.percent == 100


def _off_everywhere() -> dict[str, EnvironmentState]:
    return {env: EnvironmentState() for env in ENVIRONMENTS}


@dataclass(frozen=True)
class Flag:
    """A feature flag as stored; ``enabled`` is the global kill switch.

    Evaluation order (see ``console.flags.evaluate``): global switch, environment
    switch, deny list, allow list, rules, then percentage rollout on ``stickiness``.
    """

    key: str
    owner: str
    type: str
    created: date
    description: str = ""
    stage: str = "created"
    enabled: bool = True
    stickiness: str = DEFAULT_STICKINESS
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    environments: Mapping[str, EnvironmentState] = field(default_factory=_off_everywhere)
    cleanup_by: date | None = None
    cleanup_ticket: str = ""
    notes: str = ""
    last_changed_by: str = ""
    last_changed_at: datetime | None = None

    def env(self, name: str) -> EnvironmentState:
        return self.environments.get(name, EnvironmentState())

    def with_env(self, name: str, **changes: Any) -> Flag:
        """A copy with one environment's state changed (validated)."""
        require_environment(name)
        if "percent" in changes:
            require_percent(changes["percent"])
        envs = dict(self.environments)
        envs[name] = replace(self.env(name), **changes)
        return replace(self, environments=envs)

    def to_toml(self) -> dict[str, Any]:
        """The flag's table, keys sorted, ``None`` fields omitted (TOML has no null)."""
        table: dict[str, Any] = {
            "allow": list(self.allow),
            "cleanup_by": self.cleanup_by,
            "cleanup_ticket": self.cleanup_ticket,
            "created": self.created,
            "deny": list(self.deny),
            "description": self.description,
            "enabled": self.enabled,
            "last_changed_at": self.last_changed_at,
            "last_changed_by": self.last_changed_by,
            "notes": self.notes,
            "owner": self.owner,
            "rules": [rule.to_dict() for rule in self.rules],
            "stage": self.stage,
            "stickiness": self.stickiness,
            "type": self.type,
        }
        for env in ENVIRONMENTS:
            state = self.env(env)
            table[f"{env}_changed_at"] = state.changed_at
            table[f"{env}_enabled"] = state.enabled
            table[f"{env}_percent"] = state.percent
        return {k: table[k] for k in sorted(table) if table[k] is not None}

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form (dates as ISO strings), used by ``--json`` and the audit log."""
        doc: dict[str, Any] = {"key": self.key}
        for name, value in self.to_toml().items():
            doc[name] = value.isoformat() if isinstance(value, date) else value
        return doc


@dataclass(frozen=True)
class FlagSet:
    """Every flag of one file version, by key (sorted)."""

    flags: Mapping[str, Flag] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.flags)

    def __iter__(self) -> Iterator[Flag]:
        return iter(self.flags.values())

    def __contains__(self, key: object) -> bool:
        return key in self.flags

    def get(self, key: str) -> Flag | None:
        return self.flags.get(key)

    def require(self, key: str) -> Flag:
        """The flag, or ``InvalidInput`` naming the unknown key (CLI exit 2)."""
        require_key(key)
        flag = self.flags.get(key)
        if flag is None:
            raise InvalidInput(f"unknown flag {key!r}")
        return flag

    def with_flag(self, flag: Flag) -> FlagSet:
        merged = dict(self.flags)
        merged[flag.key] = flag
        return FlagSet({k: merged[k] for k in sorted(merged)})

    def without(self, key: str) -> FlagSet:
        self.require(key)
        return FlagSet({k: v for k, v in self.flags.items() if k != key})

    def to_toml(self) -> dict[str, Any]:
        return {
            "version": FILE_VERSION,
            "flags": {key: self.flags[key].to_toml() for key in sorted(self.flags)},
        }


@dataclass(frozen=True, slots=True)
class Override:
    """A process-level ``SHIPDECK_FLAG_<KEY>`` override: replaces the flag's state here."""

    variable: str
    raw: str
    enabled: bool | None  # None when ``raw`` is invalid
    percent: int
    error: str | None = None

    def describe(self) -> str:
        raw = shown_text(self.raw)
        if self.error:
            return f"{self.variable}={raw} (ignored: {self.error})"
        state = "off" if not self.enabled else f"{self.percent}%"
        return f"{self.variable}={raw} ({state})"


# -- field validation (one-line messages, CLI exit 2) ----------------------------------------


def require_key(key: str) -> str:
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise InvalidInput(f"invalid flag key {key!r}: must match [a-z0-9][a-z0-9._-]{{0,99}}")
    return key


def require_percent(percent: object) -> int:
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise InvalidInput(f"invalid percentage {percent!r}: must be an integer 0–100")
    return percent


def require_environment(name: str) -> str:
    if name not in ENVIRONMENTS:
        raise InvalidInput(
            f"unknown environment {name!r}: expected one of {', '.join(ENVIRONMENTS)}"
        )
    return name


def require_type(flag_type: str) -> str:
    if flag_type not in FLAG_TYPES:
        raise InvalidInput(
            f"invalid flag type {flag_type!r}: expected one of {', '.join(FLAG_TYPES)}"
        )
    return flag_type


def require_stage(stage: str) -> str:
    if stage not in STAGES:
        raise InvalidInput(f"invalid stage {stage!r}: expected one of {' → '.join(STAGES)}")
    return stage


def semver_key(text: str) -> tuple | None:
    """A sortable key for a semantic version (2.0.0 precedence), or None if not one.

    Pre-releases sort before their release; numeric identifiers before alphanumeric.
    """
    if len(text) > _SEMVER_MAX_CHARS:
        return None
    match = _SEMVER.fullmatch(text.strip())
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    if pre is None:
        return (int(major), int(minor), int(patch), 1, ())
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (int(major), int(minor), int(patch), 0, ids)


def override_variable(key: str) -> str:
    """``new-checkout.v2`` → ``SHIPDECK_FLAG_NEW_CHECKOUT_V2`` (``-`` and ``.`` become ``_``)."""
    return OVERRIDE_PREFIX + re.sub(r"[^A-Z0-9]", "_", key.upper())


def parse_override(variable: str, raw: str) -> Override:
    """``on`` | ``off`` | an integer percentage 0–100 (a trailing ``%`` is allowed).

    Never raises: the value comes from the environment, and a typo there must
    leave the flag's file state in force, not take evaluation down.
    """
    if not isinstance(raw, str) or len(raw) > _OVERRIDE_MAX_CHARS:
        return Override(variable, raw, None, 0, _OVERRIDE_ERROR)
    value = raw.strip().lower()
    if value == "on":
        return Override(variable, raw, True, 100)
    if value == "off":
        return Override(variable, raw, False, 0)
    if _OVERRIDE_PERCENT.fullmatch(value):
        percent = int(value.removesuffix("%"))
        if percent <= 100:
            return Override(variable, raw, True, percent)
    return Override(variable, raw, None, 0, _OVERRIDE_ERROR)


_OVERRIDE_ERROR = "expected on, off or a percentage 0–100"


def overrides_for(keys: Iterable[str], environ: Mapping[str, str]) -> dict[str, Override]:
    """The overrides in ``environ`` that name one of ``keys``."""
    found: dict[str, Override] = {}
    for key in keys:
        variable = override_variable(key)
        raw = environ.get(variable)
        if raw is not None:
            found[key] = parse_override(variable, raw)
    return found


# -- reading the file (bounded) ---------------------------------------------------------------


def read_flags_file(path: str | os.PathLike[str]) -> str:
    """The file's text, reading at most ``MAX_FILE_BYTES`` + 1 bytes from any file type.

    ``stat().st_size`` says nothing about ``/dev/zero`` or a FIFO, so the size is
    bounded by what is read, and a FIFO or device is read without blocking, for
    at most ``READ_TIMEOUT_S``. Raises ``OSError`` (missing, unreadable, a FIFO
    nobody writes) or ``ConfigInvalid`` (too large, not UTF-8), never a bare
    ``UnicodeDecodeError`` or ``MemoryError``.
    """
    source = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(source, flags | getattr(os, "O_CLOEXEC", 0))
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
        data = _read_bounded(fd, MAX_FILE_BYTES + 1, None if regular else READ_TIMEOUT_S)
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise ConfigInvalid(
            [f"{source}: flags file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB"]
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigInvalid([f"{source}:{line}: not valid UTF-8 (byte {exc.start})"]) from None


def _read_bounded(fd: int, limit: int, timeout_s: float | None) -> bytes:
    """Up to ``limit`` bytes; with ``timeout_s``, poll a non-blocking fd until then."""
    import select

    chunks: list[bytes] = []
    total = 0
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while total < limit:
        try:
            chunk = os.read(fd, min(1024 * 1024, limit - total))
        except BlockingIOError:
            remaining = 0.0 if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no data within {timeout_s:g}s (a FIFO or device?)") from None
            select.select([fd], [], [], remaining)
            continue
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


# -- parsing with file:line messages ---------------------------------------------------------


def shown_text(text: str) -> str:
    """``text`` for a one-line message: control characters escaped, clipped.

    Flag files and environments are operator-supplied; a message quoting them
    must neither span lines nor carry escape sequences to the terminal.
    """
    if len(text) > _SHOWN_CHARS:
        text = text[:_SHOWN_CHARS] + "…"
    return printable(text)


def _shown(value: object) -> str:
    """``repr``-style quoting for messages, clipped (a 4 MiB value stays one short line)."""
    if isinstance(value, str):
        text = repr(value[: _SHOWN_CHARS + 1])
    else:
        try:
            text = repr(value)
        except RecursionError:  # a value nested hundreds deep
            text = f"<deeply nested {type(value).__name__}>"
    return shown_text(text)


_HEADER = re.compile(
    r"""^\s*\[\[?\s*flags\s*\.\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(\.[^\]]*)?\]\]?"""
)
_ANY_HEADER = re.compile(r"^\s*\[")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]{1,100}")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


class _Locator:
    """Finds the line of ``flags.<key>.<field>`` in the raw text, for error messages.

    tomllib reports no positions for valid TOML, so the text is scanned for the
    flag's table header and the field's assignment below it. Unusual spellings
    (dotted keys, inline tables) fall back to the header line, or no line.
    """

    def __init__(self, text: str) -> None:
        self._headers: dict[str, int] = {}
        self._fields: dict[tuple[str, str], int] = {}
        current: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                key = next(g for g in header.groups()[:3] if g is not None)
                sub = header.group(4)
                if sub:  # [[flags.x.rules]] and the like: a field of flag x
                    field_name = sub.strip(". ").split(".")[0].strip("\"'")
                    self._fields.setdefault((key, field_name), number)
                    current = None
                else:
                    self._headers.setdefault(key, number)
                    current = key
                continue
            if _ANY_HEADER.match(line):
                current = None
                continue
            assign = _ASSIGN.match(line)
            if assign and current is not None:
                self._fields.setdefault((current, assign.group(1)), number)

    def line(self, key: str, field_name: str | None = None) -> int | None:
        if field_name is not None and (key, field_name) in self._fields:
            return self._fields[(key, field_name)]
        return self._headers.get(key)


def _dotted(key: str) -> str:
    if KEY_PATTERN.fullmatch(key) or _BARE_KEY.fullmatch(key):
        return f'"{key}"' if "." in key else key
    return _shown(key)


class _Problems:
    """Collects one-line ``source:line: flags.key.field: problem`` messages."""

    def __init__(self, source: str, locator: _Locator) -> None:
        self.source = source
        self.locator = locator
        self.messages: list[str] = []

    def add(self, key: str, field_name: str | None, problem: str) -> None:
        line = self.locator.line(key, field_name)
        where = f"{self.source}:{line}" if line else self.source
        shown_field = field_name if _BARE_KEY.fullmatch(field_name or "") else _shown(field_name)
        path = f"flags.{_dotted(key)}" + (f".{shown_field}" if field_name else "")
        self.messages.append(f"{where}: {path}: {shown_text_long(problem)}")


_FLAG_FIELDS = {
    "allow",
    "cleanup_by",
    "cleanup_ticket",
    "created",
    "deny",
    "description",
    "enabled",
    "last_changed_at",
    "last_changed_by",
    "notes",
    "owner",
    "rules",
    "stage",
    "stickiness",
    "type",
} | {f"{env}_{name}" for env in ENVIRONMENTS for name in ("enabled", "percent", "changed_at")}


def shown_text_long(text: str) -> str:
    """A whole message line: control characters escaped, clipped at a few hundred chars."""
    if len(text) > 4 * _SHOWN_CHARS:
        text = text[: 4 * _SHOWN_CHARS] + "…"
    return printable(text)


def _toml(text: str, source: str) -> dict[str, Any]:
    """``tomllib.loads`` with every way it can fail as one ``file:line`` message."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"at line (\d+)", str(exc))
        where = f"{source}:{line.group(1)}" if line else source
        raise ConfigInvalid([f"{where}: invalid TOML: {shown_text_long(str(exc))}"]) from None
    except RecursionError:
        # tomllib recurses once per nested array/inline table; 3000 levels overflow.
        raise ConfigInvalid([f"{source}:1: invalid TOML: nested too deeply"]) from None
    except ValueError:
        # int() refuses more than sys.get_int_max_str_digits() digits (4300).
        long_number = re.search(r"[0-9_]{1000,}", text)
        line = text.count("\n", 0, long_number.start()) + 1 if long_number else 1
        raise ConfigInvalid([f"{source}:{line}: invalid TOML: number too long"]) from None


def parse_flags(text: str, source: str = "flags.toml") -> FlagSet:
    """Parse and validate a flags file; ``ConfigInvalid`` lists every problem, one a line.

    At most ``MAX_PROBLEMS`` problems are listed, then how many more there were.
    """
    doc = _toml(text, source)
    problems = _Problems(source, _Locator(text))
    for name in doc:
        if name not in ("version", "flags"):
            problems.messages.append(f"{source}: {_shown(name)}: unknown top-level key")
    version = doc.get("version", FILE_VERSION)
    if isinstance(version, bool) or version != FILE_VERSION:
        problems.messages.append(f"{source}: version: unsupported version {_shown(version)}")
    tables = doc.get("flags", {})
    flags: dict[str, Flag] = {}
    if not isinstance(tables, dict):
        problems.messages.append(f"{source}: flags: must be a table of flags")
        tables = {}
    for key in sorted(tables):
        flag = _parse_flag(key, tables[key], problems)
        if flag is not None:
            flags[key] = flag
    if problems.messages:
        shown = problems.messages[:MAX_PROBLEMS]
        if len(problems.messages) > MAX_PROBLEMS:
            shown.append(f"{source}: {len(problems.messages) - MAX_PROBLEMS} more problems")
        raise ConfigInvalid(shown)
    return FlagSet(flags)


def _parse_flag(key: str, table: object, problems: _Problems) -> Flag | None:
    before = len(problems.messages)
    if not KEY_PATTERN.fullmatch(key):
        problems.add(key, None, "invalid key: must match [a-z0-9][a-z0-9._-]{0,99}")
        return None
    if not isinstance(table, dict):
        problems.add(key, None, "must be a table")
        return None
    for name in sorted(set(table) - _FLAG_FIELDS):
        problems.add(key, name, "unknown field")

    def get(name: str, kind: type | tuple[type, ...], default: Any, what: str) -> Any:
        if name not in table:
            if default is _REQUIRED:
                problems.add(key, None, f"missing required field {name!r}")
            return None if default is _REQUIRED else default
        value = table[name]
        bad_bool = isinstance(value, bool) and kind is int
        bad_datetime = kind is date and isinstance(value, datetime)
        if not isinstance(value, kind) or bad_bool or bad_datetime:
            problems.add(key, name, f"must be {what}")
            return None if default is _REQUIRED else default
        return value

    owner = get("owner", str, _REQUIRED, "a string")
    if owner is not None and not owner.strip():
        problems.add(key, "owner", "must not be empty")
    flag_type = get("type", str, _REQUIRED, "a string")
    if flag_type is not None and flag_type not in FLAG_TYPES:
        problems.add(key, "type", f"must be one of {', '.join(FLAG_TYPES)}")
    created = get("created", date, _REQUIRED, "a date (YYYY-MM-DD)")
    stage = get("stage", str, "created", "a string")
    if stage not in STAGES:
        problems.add(key, "stage", f"must be one of {', '.join(STAGES)}")
    stickiness = get("stickiness", str, DEFAULT_STICKINESS, "a string")
    if not _ATTRIBUTE_PATTERN.fullmatch(stickiness):
        problems.add(key, "stickiness", "must be a context attribute name")
    envs: dict[str, EnvironmentState] = {}
    for env in ENVIRONMENTS:
        percent = get(f"{env}_percent", int, 0, "an integer 0–100")
        if not 0 <= percent <= 100:
            problems.add(key, f"{env}_percent", "must be an integer 0–100")
        envs[env] = EnvironmentState(
            enabled=get(f"{env}_enabled", bool, False, "true or false"),
            percent=percent,
            changed_at=_aware(get(f"{env}_changed_at", datetime, None, "a datetime")),
        )
    flag = Flag(
        key=key,
        owner=owner or "",
        type=flag_type or "",
        created=created or date.min,
        description=get("description", str, "", "a string"),
        stage=stage,
        enabled=get("enabled", bool, True, "true or false"),
        stickiness=stickiness,
        allow=_strings(key, "allow", table, problems),
        deny=_strings(key, "deny", table, problems),
        rules=_rules(key, table.get("rules", []), problems),
        environments=envs,
        cleanup_by=get("cleanup_by", date, None, "a date (YYYY-MM-DD)"),
        cleanup_ticket=get("cleanup_ticket", str, "", "a string"),
        notes=get("notes", str, "", "a string"),
        last_changed_by=get("last_changed_by", str, "", "a string"),
        last_changed_at=_aware(get("last_changed_at", datetime, None, "a datetime")),
    )
    return flag if len(problems.messages) == before else None


_REQUIRED = object()


def _aware(value: datetime | None) -> datetime | None:
    """Naive datetimes in the file are taken as UTC so comparisons never raise."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _strings(key: str, name: str, table: dict, problems: _Problems) -> tuple[str, ...]:
    value = table.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.add(key, name, "must be a list of strings")
        return ()
    return tuple(value)


def _rules(key: str, value: object, problems: _Problems) -> tuple[Rule, ...]:
    if not isinstance(value, list):
        problems.add(key, "rules", "must be a list of rule tables")
        return ()
    rules: list[Rule] = []
    for index, item in enumerate(value, start=1):
        rule = _rule(item)
        if isinstance(rule, str):
            problems.add(key, "rules", f"rule {index}: {rule}")
        else:
            rules.append(rule)
    return tuple(rules)


def _rule(item: object) -> Rule | str:
    """A validated rule, or the one-line reason it is not one."""
    if not isinstance(item, dict):
        return "must be a table with attribute, op and value(s)"
    unknown = set(item) - {"attribute", "op", "value", "values"}
    if unknown:
        return f"unknown field {_shown(sorted(unknown)[0])}"
    attribute, op = item.get("attribute"), item.get("op")
    if not isinstance(attribute, str) or not _ATTRIBUTE_PATTERN.fullmatch(attribute):
        return "attribute must be a context attribute name"
    if op not in RULE_OPS:
        return f"op must be one of {', '.join(RULE_OPS)}"
    if op == "in":
        values = item.get("values")
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) for v in values)
        ):
            return "op 'in' needs values = a non-empty list of strings"
        return Rule(attribute, op, tuple(values))
    value = item.get("value")
    if not isinstance(value, str):
        return f"op {op!r} needs value = a string"
    if op.startswith("semver") and semver_key(value) is None:
        return f"value {_shown(value)} is not a semantic version (MAJOR.MINOR.PATCH)"
    return Rule(attribute, op, (value,))


def parse_rule(text: str) -> Rule:
    """A rule from the CLI spelling ``ATTR=VALUE``, ``ATTR in A,B`` or ``ATTR >= 1.2.3``."""
    text = text.strip()
    match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_.-]*)\s*(==|=|>=|<=|>|<| in )\s*(.+)", text)
    if match is None:
        raise InvalidInput(
            f"invalid rule {text!r}: expected ATTR=VALUE, 'ATTR in A,B' or ATTR>=1.2.3"
        )
    attribute, symbol, value = match.group(1), match.group(2).strip(), match.group(3).strip()
    if symbol == "in":
        item: dict[str, Any] = {
            "attribute": attribute,
            "op": "in",
            "values": [v.strip() for v in value.split(",") if v.strip()],
        }
    elif symbol in ("=", "=="):
        item = {"attribute": attribute, "op": "equals", "value": value}
    else:
        op = {">": "semver_gt", ">=": "semver_gte", "<": "semver_lt", "<=": "semver_lte"}[symbol]
        item = {"attribute": attribute, "op": op, "value": value}
    rule = _rule(item)
    if isinstance(rule, str):
        raise InvalidInput(f"invalid rule {text!r}: {rule}")
    return rule
