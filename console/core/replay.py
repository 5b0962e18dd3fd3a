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
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.core.errors import InvalidInput
from console.core.judge import AnalysisTemplate, Judge, Outcome, Verdict
from engines.metrics.records import ArmSample, IntervalSample

MAX_FILE_BYTES = 64 * 1024 * 1024
ARM_KEYS = ("requests", "errors", "latency_buckets", "gauges", "counters")
INTERVAL_KEYS = ("weight_pct", "baseline", "canary")


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


def load_recording(path: str | Path) -> Recording:
    """Read and validate a samples file; ``InvalidInput`` names the problem."""
    file = Path(path)
    name = file.name
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InvalidInput(f"{name}: {size} bytes is more than the {MAX_FILE_BYTES} allowed")
        raw = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{name}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{name}: cannot read: {exc}") from None
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{name}: $: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    return parse_recording(document, name)


def parse_recording(document: Any, source_name: str) -> Recording:
    try:
        return _parse(document)
    except _Malformed as exc:
        raise InvalidInput(f"{source_name}: {exc.path}: {exc.problem}") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _count(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        if isinstance(value, float) and value.is_integer() and value >= 0:
            return int(value)
        raise _Malformed(path, f"expected a non-negative integer, got {json.dumps(value)}")
    return value


def _parse(document: Any) -> Recording:
    if not isinstance(document, Mapping):
        raise _Malformed("$", "expected an object with interval_s and intervals")
    interval_s = document.get("interval_s")
    if not _is_number(interval_s) or not 0 < interval_s <= 86400:
        raise _Malformed(
            "$.interval_s",
            f"expected a number of seconds in (0, 86400], got {json.dumps(interval_s)}",
        )
    intervals = document.get("intervals")
    if not isinstance(intervals, list) or not intervals:
        raise _Malformed("$.intervals", "expected a non-empty list of intervals")
    reference = None
    if document.get("baseline_reference") is not None:
        ref = document["baseline_reference"]
        if not isinstance(ref, Mapping) or "latency_buckets" not in ref:
            raise _Malformed("$.baseline_reference", "expected an object with latency_buckets")
        reference = _buckets(ref["latency_buckets"], "$.baseline_reference.latency_buckets")
    samples = []
    for index, item in enumerate(intervals):
        path = f"$.intervals[{index}]"
        if not isinstance(item, Mapping):
            raise _Malformed(path, "expected an object")
        unknown = sorted(set(item) - set(INTERVAL_KEYS))
        if unknown:
            raise _Malformed(
                f"{path}.{unknown[0]}", f"unknown key (expected {', '.join(INTERVAL_KEYS)})"
            )
        weight = item.get("weight_pct")
        if weight is not None and (not _is_number(weight) or not 0 <= weight <= 100):
            raise _Malformed(
                f"{path}.weight_pct", f"expected a number in [0, 100], got {json.dumps(weight)}"
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
        raise _Malformed(f"{path}.{unknown[0]}", f"unknown key (expected {', '.join(ARM_KEYS)})")
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
        where = f"{path}[{json.dumps(key)}]"
        try:
            le = math.inf if key.strip() in ("+Inf", "Inf", "inf", "+inf") else float(key)
        except (ValueError, AttributeError):
            raise _Malformed(where, 'expected a bucket bound in seconds or "+Inf"') from None
        if math.isnan(le) or le < 0:
            raise _Malformed(where, "expected a non-negative bucket bound")
        if le in parsed:
            raise _Malformed(where, "duplicate bucket bound")
        parsed[le] = _count(count, where)
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
    out = {}
    for key, number in value.items():
        if not _is_number(number) or (not negative_ok and number < 0):
            kind = "a number" if negative_ok else "a non-negative number"
            raise _Malformed(f"{path}.{key}", f"expected {kind}, got {json.dumps(number)}")
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
