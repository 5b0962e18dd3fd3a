"""Replay recorded canary data through the judge, look by look.

``shipdeck analyze --samples FILE`` feeds each recorded interval to a fresh
:class:`~console.core.judge.Judge` exactly as a live rollout would, and stops
at the first overall ``fail`` or ``pass``. The file format (JSON)::

    {"interval_s": 60,
     "baseline_reference": {"latency_buckets": {...}},      # optional
     "intervals": [
        {"weight_pct": 5,                                    # optional
         "baseline": {"requests": 2850, "errors": 14,
                      "latency_buckets": {"0.05": 2000, "+Inf": 2850},
                      "gauges": {"cpu": 0.4}, "counters": {"checkouts": 120}},
         "canary": {...} or null},                           # null/missing: no data
        ...]}

Counts are for that interval only; ``latency_buckets`` are cumulative by
``le`` (Prometheus style) and must include ``+Inf``; a missing ``errors``
means 0. ``baseline_reference`` is the baseline's histogram before the
canary started (to choose latency thresholds); without it the first
intervals' baseline histograms choose them. Every malformed value is refused
with its JSON path, e.g. ``$.intervals[3].canary.requests``.

The file is untrusted input, so it is bounded before it can cost much memory
or time (every limit is named in the message that refuses it):

* at most ``MAX_FILE_BYTES`` (8 MiB) are read, from any file type: a regular
  file, a FIFO or ``<(command)``, ``/dev/zero``; the size is what was read
  (at most the limit + 1 byte), never what ``stat()`` claims;
* at most ``MAX_CONTAINERS`` (200,000) JSON objects and arrays, counted in the
  text before it is parsed, so 8 MiB of ``{},`` never becomes millions of dicts;
* nesting at most ``MAX_DEPTH`` (32) levels deep (the format needs 5);
* at most ``MAX_INTERVALS`` (10,000) intervals (a week of 60 s looks);
* counts are integers in [0, ``MAX_COUNT``] (2**53 - 1, exact as a float);
  gauges and counters are finite and at most ``MAX_MAGNITUDE`` (1e18) in
  absolute value, so sums over every interval stay finite; ``NaN`` and
  ``Infinity`` (which Python's ``json`` accepts) are refused anywhere.

It must never read unbounded input, recurse over the document, or print a
value unclipped or a key with control characters in a message.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.core.errors import InvalidInput
from console.core.judge import AnalysisTemplate, Judge, Outcome, Verdict
from engines.metrics.records import ArmSample, IntervalSample

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_CONTAINERS = 200_000
MAX_DEPTH = 32
MAX_INTERVALS = 10_000
MAX_COUNT = 2**53 - 1
MAX_MAGNITUDE = 1e18
ARM_KEYS = ("requests", "errors", "latency_buckets", "gauges", "counters")
INTERVAL_KEYS = ("weight_pct", "baseline", "canary")
_READ_CHUNK = 1024 * 1024
_SHOWN_CHARS = 40
# A JSON string, or an unterminated one up to the end: always matching from its
# opening quote keeps stripping linear (``"\\"\\"…`` cannot make it quadratic).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Recording:
    interval_s: float
    intervals: tuple[IntervalSample, ...]
    baseline_reference: tuple[tuple[float, int], ...] | None


class _Malformed(Exception):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class _NonFinite(Exception):
    """``NaN``/``Infinity`` met by the JSON decoder (it has no position to give)."""


def load_recording(path: str | Path) -> Recording:
    """Read and validate a samples file; ``InvalidInput`` names the problem.

    Every refusal is one line and costs at most one bounded read and one parse
    of at most ``MAX_FILE_BYTES``; the file is only ever opened for reading.
    """
    name = os.fspath(path)
    if not name.isprintable():  # a path with control characters stays one safe line
        name = json.dumps(name)
    raw = _read_bounded(path, name)
    try:
        text = raw.decode("utf-8-sig")  # a leading BOM (Windows editors) is not an error
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InvalidInput(f"{name}: $: not UTF-8 text (line {line}, byte {exc.start})") from None
    _check_containers(text, name)
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{name}: $: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except _NonFinite as exc:
        raise InvalidInput(
            f"{name}: $: {exc} is not allowed: every number must be finite"
        ) from None
    except RecursionError:
        raise InvalidInput(f"{name}: $: nested more than {MAX_DEPTH} levels deep") from None
    except ValueError:  # an integer longer than int() accepts (4300 digits)
        raise InvalidInput(f"{name}: $: an integer has too many digits") from None
    if _deeper_than(document, MAX_DEPTH):
        raise InvalidInput(f"{name}: $: nested more than {MAX_DEPTH} levels deep")
    return parse_recording(document, name)


def _read_bounded(path: str | Path, name: str) -> bytes:
    """At most ``MAX_FILE_BYTES`` + 1 bytes, whatever the file is.

    A FIFO is read as its writer writes (``--samples <(command)`` works) and
    a device like ``/dev/zero`` is cut off one byte past the limit.
    """
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise InvalidInput(f"{name}: no such file") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise InvalidInput(
            f"{name}: cannot read: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InvalidInput(f"{name}: is a directory, not a samples file")
        if stat.S_ISREG(info.st_mode) and info.st_size > MAX_FILE_BYTES:
            raise InvalidInput(_too_large(name, f"its {info.st_size} bytes are"))
        chunks: list[bytes] = []
        total = 0
        while total <= MAX_FILE_BYTES:
            chunk = os.read(fd, min(_READ_CHUNK, MAX_FILE_BYTES + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise InvalidInput(f"{name}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if total > MAX_FILE_BYTES:
        raise InvalidInput(_too_large(name, "it holds"))
    return b"".join(chunks)


def _too_large(name: str, size: str) -> str:
    return (
        f"{name}: {size} more than the {MAX_FILE_BYTES} bytes"
        f" ({MAX_FILE_BYTES // 2**20} MiB) a samples file may have"
    )


def _check_containers(text: str, name: str) -> None:
    """Refuse more than ``MAX_CONTAINERS`` objects and arrays before parsing.

    Counting brackets is C-speed; only when that upper bound is over the limit
    are strings (whose brackets do not count) stripped for the exact count.
    """
    count = text.count("{") + text.count("[")
    if count > MAX_CONTAINERS:
        bare = _JSON_STRING.sub("", text)
        count = bare.count("{") + bare.count("[")
    if count > MAX_CONTAINERS:
        raise InvalidInput(
            f"{name}: $: more than {MAX_CONTAINERS} JSON objects and arrays"
            f" (at most {MAX_INTERVALS} intervals are allowed)"
        )


def _deeper_than(document: Any, limit: int) -> bool:
    """Whether containers nest deeper than ``limit``; iterative, never recursive."""
    stack: list[tuple[Any, int]] = [(document, 1)] if isinstance(document, dict | list) else []
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        nested = [c for c in children if type(c) is dict or type(c) is list]
        if nested and depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in nested)
    return False


def _refuse_constant(token: str) -> Any:
    raise _NonFinite(token)


def parse_recording(document: Any, source_name: str) -> Recording:
    try:
        return _parse(document)
    except _Malformed as exc:
        raise InvalidInput(f"{source_name}: {exc.path}: {exc.problem}") from None


def _show(value: Any) -> str:
    """``value`` for a one-line message: JSON-escaped (no control characters), clipped."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
        return f"an integer of {len(str(abs(value)))} digits"
    if isinstance(value, str) and len(value) > _SHOWN_CHARS:
        return json.dumps(value[:_SHOWN_CHARS])[:-1] + '…"'
    return json.dumps(value)


def _member(path: str, key: Any) -> str:
    """The JSON path of ``key`` in the object at ``path``."""
    if isinstance(key, str) and _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}"
    return f"{path}[{_show(key)}]"


def _is_number(value: Any) -> bool:
    """A JSON number that is finite (an ``int`` of any size, or a finite float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


def _count(value: Any, path: str) -> int:
    if type(value) is int and 0 <= value <= MAX_COUNT:  # the common case, first
        return value
    # range first: float() of a 400-digit integer would overflow
    if _is_number(value) and 0 <= value <= MAX_COUNT and float(value).is_integer():
        return int(value)
    raise _Malformed(
        path, f"expected a non-negative integer (at most {MAX_COUNT}), got {_show(value)}"
    )


ROOT_KEYS = ("interval_s", "baseline_reference", "intervals")


def _parse(document: Any) -> Recording:
    if not isinstance(document, Mapping):
        raise _Malformed("$", "expected an object with interval_s and intervals")
    unknown = sorted(set(document) - set(ROOT_KEYS))
    if unknown:
        raise _Malformed(_member("$", unknown[0]), f"unknown key (expected {', '.join(ROOT_KEYS)})")
    interval_s: Any = document.get("interval_s")  # a JSON value until checked just below
    if not _is_number(interval_s) or not 0 < interval_s <= 86400:
        raise _Malformed(
            "$.interval_s",
            f"expected a number of seconds in (0, 86400], got {_show(interval_s)}",
        )
    intervals = document.get("intervals")
    if not isinstance(intervals, list) or not intervals:
        raise _Malformed("$.intervals", "expected a non-empty list of intervals")
    if len(intervals) > MAX_INTERVALS:
        raise _Malformed(
            "$.intervals", f"{len(intervals)} intervals is more than the {MAX_INTERVALS} allowed"
        )
    reference = None
    if document.get("baseline_reference") is not None:
        ref = document["baseline_reference"]
        if not isinstance(ref, Mapping) or "latency_buckets" not in ref:
            raise _Malformed("$.baseline_reference", "expected an object with latency_buckets")
        unknown = sorted(set(ref) - {"latency_buckets"})
        if unknown:
            raise _Malformed(
                _member("$.baseline_reference", unknown[0]),
                "unknown key (expected latency_buckets)",
            )
        reference = _buckets(ref["latency_buckets"], "$.baseline_reference.latency_buckets")
    samples = []
    for index, item in enumerate(intervals):
        path = f"$.intervals[{index}]"
        if not isinstance(item, Mapping):
            raise _Malformed(path, "expected an object")
        unknown = sorted(set(item) - set(INTERVAL_KEYS))
        if unknown:
            raise _Malformed(
                _member(path, unknown[0]), f"unknown key (expected {', '.join(INTERVAL_KEYS)})"
            )
        weight: Any = item.get("weight_pct")
        if weight is not None and (not _is_number(weight) or not 0 <= weight <= 100):
            raise _Malformed(
                f"{path}.weight_pct", f"expected a number in [0, 100], got {_show(weight)}"
            )
        baseline = _arm(item.get("baseline"), f"{path}.baseline")
        canary = _arm(item.get("canary"), f"{path}.canary")
        missing = [t for t, a in (("baseline", baseline), ("canary", canary)) if a is None]
        samples.append(
            IntervalSample(
                start_ts=index * float(interval_s),
                interval_s=float(interval_s),
                weight_pct=None if weight is None else float(weight),
                baseline=baseline,
                canary=canary,
                reason=f"no {' or '.join(missing)} data recorded" if missing else None,
            )
        )
    return Recording(float(interval_s), tuple(samples), reference)


def _arm(value: Any, path: str) -> ArmSample | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _Malformed(path, "expected an object or null")
    unknown = sorted(set(value) - set(ARM_KEYS))
    if unknown:
        raise _Malformed(_member(path, unknown[0]), f"unknown key (expected {', '.join(ARM_KEYS)})")
    if "requests" not in value:
        raise _Malformed(f"{path}.requests", "missing (a non-negative integer)")
    requests = _count(value["requests"], f"{path}.requests")
    raw_errors = value.get("errors")
    errors = 0 if raw_errors is None else _count(raw_errors, f"{path}.errors")
    if errors > requests:
        raise _Malformed(f"{path}.errors", f"{errors} errors exceed {requests} requests")
    buckets: tuple[tuple[float, int], ...] = ()
    if value.get("latency_buckets") is not None:
        buckets = _buckets(value["latency_buckets"], f"{path}.latency_buckets")
    gauges = _numbers(value.get("gauges"), f"{path}.gauges", negative_ok=True)
    counters = _numbers(value.get("counters"), f"{path}.counters", negative_ok=False)
    return ArmSample(
        requests=requests,
        errors=errors,
        latency_buckets=buckets,
        gauges=gauges,
        counters=counters,
    )


def _buckets(value: Any, path: str) -> tuple[tuple[float, int], ...]:
    if not isinstance(value, Mapping) or not value:
        raise _Malformed(path, "expected an object of le → cumulative count")
    parsed: dict[float, int] = {}
    for key, count in value.items():
        try:
            le = float(key)  # also "+Inf", "Inf", "inf"
        except ValueError:
            raise _Malformed(
                f"{path}[{_show(key)}]", 'expected a bucket bound in seconds or "+Inf"'
            ) from None
        if math.isnan(le) or le < 0:
            raise _Malformed(f"{path}[{_show(key)}]", "expected a non-negative bucket bound")
        if le in parsed:
            raise _Malformed(f"{path}[{_show(key)}]", "duplicate bucket bound")
        if type(count) is int and 0 <= count <= MAX_COUNT:
            parsed[le] = count
        else:
            parsed[le] = _count(count, f"{path}[{_show(key)}]")
    if math.inf not in parsed:
        raise _Malformed(path, 'missing the "+Inf" bucket (the total count)')
    ordered = tuple(sorted(parsed.items()))
    for (le_a, a), (le_b, b) in zip(ordered, ordered[1:], strict=False):
        if b < a:
            key = "+Inf" if math.isinf(le_b) else f"{le_b:g}"
            raise _Malformed(
                f"{path}[{json.dumps(key)}]",
                f"cumulative count {b} is below {a} at le={le_a:g}",
            )
    return ordered


def _numbers(value: Any, path: str, *, negative_ok: bool) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _Malformed(path, "expected an object of name → number")
    low = -MAX_MAGNITUDE if negative_ok else 0.0
    out = {}
    for key, number in value.items():
        if not _is_number(number) or not low <= number <= MAX_MAGNITUDE:
            raise _Malformed(
                _member(path, key),
                f"expected a number in [{low:g}, {MAX_MAGNITUDE:g}], got {_show(number)}",
            )
        out[str(key)] = float(number)
    return out


def replay(recording: Recording, template: AnalysisTemplate) -> dict[str, Any]:
    """Judge the recording look by look; stop at the first fail or pass.

    Returns ``{"verdict", "decided_at_interval" (1-based or None),
    "decided_at_s" (or None), "metrics": [{"name", "verdict", "explanation"}]}``.
    """
    judge = Judge(template, baseline_reference=recording.baseline_reference)
    verdict: Verdict | None = None
    for sample in recording.intervals:
        verdict = judge.observe(sample)
        if verdict.decided:
            break
    assert verdict is not None  # the parser refuses an empty recording
    return verdict_document(verdict, recording.interval_s)


def verdict_document(verdict: Verdict, interval_s: float) -> dict[str, Any]:
    """The ``--json`` document of a judged run (replay or live)."""
    decided = verdict.overall in (Outcome.PASS, Outcome.FAIL)
    decided_at_s = verdict.look * interval_s
    return {
        "verdict": verdict.overall.value,
        "decided_at_interval": verdict.look if decided else None,
        "decided_at_s": (int(decided_at_s) if float(decided_at_s).is_integer() else decided_at_s)
        if decided
        else None,
        "metrics": [
            {"name": m.name, "verdict": m.verdict.value, "explanation": m.explanation}
            for m in verdict.metrics
        ],
    }
