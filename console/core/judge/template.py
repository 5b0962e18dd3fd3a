"""Analysis templates: every knob of the judge, with documented defaults.

The config loader calls :meth:`AnalysisTemplate.from_mapping` for each
``[analysis.<name>]`` TOML table; unknown keys and bad values are refused with
one line naming the key, so a typo cannot silently fall back to a default.

Why these defaults (50 req/s total, 1% baseline errors, 5% canary weight; see
``bench/judge`` for the measured consequences):

- ``alpha_fail = 0.05`` is the total false-rollback budget *at the tolerance*
  (a canary exactly ``error_ratio_fail`` times worse); it is split across the
  FAIL tests (errors, each latency threshold) because overall FAIL is an OR.
  A healthy canary (ratio 1) is rolled back far less often than that.
- ``alpha_pass = 0.05`` is per PASS test, not split: overall PASS needs every
  required metric to pass, so a release bad on one metric is promoted only if
  that metric's own test errs.
- ``error_ratio_fail = 1.2``: a 20% tolerance absorbs the overdispersion real
  traffic has and the binomial model does not; ``error_ratio_pass = 1.5``:
  promote once the canary is shown to be less than 1.5x worse. Between the two
  either decision may come; both are anytime-valid claims.
- ``latency_quantiles = (0.5, 0.99, 0.999)``: the median threshold can pass
  or fail; the p99 and p99.9 ones only fail. The far tail catches rare but
  large slowness (3% of requests +400 ms) in minutes, where p99 alone took 10.
- ``min_soak_s = 600`` and ``min_canary_requests = 500``: PASS also needs time
  for slow-burning problems (leaks, caches) and traffic that could show them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from console.core.errors import InvalidInput
from console.core.judge.eprocess import DEFAULT_HIGH, DEFAULT_LOW

BOUND_KINDS = ("gauge", "per_request")


@dataclass(frozen=True, slots=True)
class BoundRule:
    """A resource or business metric judged by a relative bound on canary ÷ baseline.

    ``gauge``: mean canary value ÷ mean baseline value over the intervals with
    data (CPU, memory, saturation). ``per_request``: a business counter per
    request (checkouts per request), canary ÷ baseline. These are point
    estimates against a tolerance, not sequential tests: they need
    ``min_samples`` intervals with data before deciding either way.
    """

    name: str
    kind: str = "gauge"
    source: str = ""  # key in ArmSample.gauges / .counters; defaults to name
    max_ratio: float | None = None
    min_ratio: float | None = None
    min_samples: int = 5
    critical: bool = True
    required: bool = False

    @property
    def key(self) -> str:
        return self.source or self.name


@dataclass(frozen=True, slots=True)
class AnalysisTemplate:
    """All parameters of one canary analysis (units in the names)."""

    name: str = "default"
    # how often the live loop samples and judges; replays use the file's interval
    interval_s: float = 60.0
    # total false-rollback budget, split: errors get errors_alpha_share, the
    # latency thresholds share the rest equally
    alpha_fail: float = 0.05
    # false-promotion budget of each PASS test
    alpha_pass: float = 0.05
    errors_alpha_share: float = 0.5
    # canary error rate ÷ baseline error rate
    error_ratio_fail: float = 1.2
    error_ratio_pass: float = 1.5
    # thresholds near these baseline quantiles; the first may pass, the rest
    # (tail) may only fail. Empty: no latency analysis.
    latency_quantiles: tuple[float, ...] = (0.5, 0.99, 0.999)
    # canary share slower than a threshold ÷ baseline share
    latency_ratio_fail: float = 1.2
    latency_ratio_pass: float = 1.3
    # latency thresholds are never below this: a canary a fraction of a
    # millisecond slower is scheduling noise, not a regression
    latency_floor_ms: float = 1.0
    # PASS needs this much time with data and this many canary requests
    min_soak_s: float = 600.0
    min_canary_requests: int = 500
    # baseline requests needed in the pre-canary histogram to choose thresholds
    min_reference_requests: int = 200
    # traffic guard: FAIL when the canary got less than traffic_min_share of its
    # configured weight over the last traffic_window_intervals intervals, once
    # at least traffic_min_expected_requests were expected
    traffic_min_share: float = 0.25
    traffic_min_expected_requests: int = 50
    traffic_window_intervals: int = 3
    # temper each interval's evidence by the overdispersion seen so far
    dispersion_guard: bool = True
    bounds: tuple[BoundRule, ...] = field(default=())
    # what a rollout does when an analysis step ends inconclusive (too little
    # data, metrics unreachable): hold the weight for a human, roll back, or
    # extend the step once
    on_inconclusive: str = "pause"

    @property
    def errors_alpha_fail(self) -> float:
        if not self.latency_quantiles:
            return self.alpha_fail
        return self.alpha_fail * self.errors_alpha_share

    @property
    def latency_alpha_fail(self) -> float:
        """Per latency threshold (split over the configured quantiles)."""
        if not self.latency_quantiles:
            return 0.0
        return self.alpha_fail * (1 - self.errors_alpha_share) / len(self.latency_quantiles)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], source_name: str) -> AnalysisTemplate:
        """Validate a ``[analysis.<name>]`` table. ``source_name`` prefixes every
        error, e.g. ``"shipdeck.toml: [analysis.default]"``."""
        return _parse_template(mapping, source_name)


ACCEPTED_KEYS = tuple(f.name for f in fields(AnalysisTemplate))
BOUND_KEYS = (
    "kind",
    "source",
    "max_ratio",
    "min_ratio",
    "max_drop_pct",
    "min_samples",
    "critical",
    "required",
)


def _fail(source: str, key: str, problem: str) -> InvalidInput:
    return InvalidInput(f"{source}: {key}: {problem}")


def _number(
    source: str, key: str, value: Any, low: float, high: float, *, open_low: bool = True
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(source, key, "expected a number")
    if isinstance(value, int) and abs(value) > 2**53:
        raise _fail(source, key, f"expected a number in ({low:g}, {high:g}], got a huge integer")
    if not math.isfinite(value):
        raise _fail(source, key, "expected a number")
    ok_low = value > low if open_low else value >= low
    if not ok_low or value > high:
        bracket = "(" if open_low else "["
        raise _fail(source, key, f"expected a number in {bracket}{low:g}, {high:g}], got {value!r}")
    return float(value)


def _integer(source: str, key: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _fail(source, key, f"expected an integer ≥ {low}, got {value!r}")
    return value


def _boolean(source: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(source, key, f"expected true or false, got {value!r}")
    return value


def _ratio(source: str, key: str, value: Any) -> float:
    ratio = _number(source, key, value, DEFAULT_LOW, DEFAULT_HIGH)
    if ratio >= DEFAULT_HIGH:
        raise _fail(source, key, f"expected a ratio below {DEFAULT_HIGH:g}")
    return ratio


def _parse_template(mapping: Mapping[str, Any], source: str) -> AnalysisTemplate:
    if not isinstance(mapping, Mapping):
        raise InvalidInput(f"{source}: expected a table")
    unknown = sorted(set(mapping) - set(ACCEPTED_KEYS))
    if unknown:
        raise _fail(source, unknown[0], f"unknown key (accepted: {', '.join(ACCEPTED_KEYS)})")
    values: dict[str, Any] = {}
    for key, value in mapping.items():
        if key == "name":
            if not isinstance(value, str) or not value.strip():
                raise _fail(source, key, "expected a non-empty string")
            values[key] = value
        elif key in ("interval_s", "min_soak_s"):
            low = 0.0 if key == "interval_s" else -1e-9
            values[key] = _number(source, key, value, low, 86400.0)
        elif key == "latency_floor_ms":
            values[key] = _number(source, key, value, 0.0, 60_000.0, open_low=False)
        elif key in ("alpha_fail", "alpha_pass"):
            values[key] = _number(source, key, value, 0.0, 0.5)
        elif key == "errors_alpha_share" or key in ("traffic_min_share",):
            values[key] = _number(source, key, value, 0.0, 1.0)
        elif key in (
            "error_ratio_fail",
            "error_ratio_pass",
            "latency_ratio_fail",
            "latency_ratio_pass",
        ):
            values[key] = _ratio(source, key, value)
        elif key == "latency_quantiles":
            if not isinstance(value, list | tuple) or len(value) > 3:
                raise _fail(source, key, "expected a list of at most 3 quantiles in (0, 1)")
            qs = tuple(_number(source, key, q, 0.0, 0.9999) for q in value)
            if list(qs) != sorted(set(qs)):
                raise _fail(source, key, "expected increasing quantiles")
            values[key] = qs
        elif key in ("min_canary_requests", "min_reference_requests"):
            values[key] = _integer(source, key, value, 0)
        elif key == "traffic_min_expected_requests" or key == "traffic_window_intervals":
            values[key] = _integer(source, key, value, 1)
        elif key == "dispersion_guard":
            values[key] = _boolean(source, key, value)
        elif key == "bounds":
            values[key] = _parse_bounds(value, source)
        elif key == "on_inconclusive":
            if value not in ("pause", "rollback", "extend"):
                raise _fail(source, key, 'expected "pause", "rollback" or "extend"')
            values[key] = value
    template = AnalysisTemplate(**values)
    share = template.errors_alpha_share
    if "errors_alpha_share" in values and template.latency_quantiles and not 0 < share < 1:
        raise _fail(source, "errors_alpha_share", "expected a share strictly inside (0, 1)")
    return template


def _parse_bounds(value: Any, source: str) -> tuple[BoundRule, ...]:
    if not isinstance(value, Mapping):
        raise _fail(source, "bounds", "expected a table of metric name → rule")
    rules = []
    for name, rule in value.items():
        where = f"bounds.{name}"
        if not isinstance(name, str) or not name.replace("_", "").isalnum():
            raise _fail(source, where, "metric names are letters, digits and _")
        if not isinstance(rule, Mapping):
            raise _fail(source, where, "expected a table")
        unknown = sorted(set(rule) - set(BOUND_KEYS))
        if unknown:
            raise _fail(
                source, f"{where}.{unknown[0]}", f"unknown key (accepted: {', '.join(BOUND_KEYS)})"
            )
        kind = rule.get("kind", "gauge")
        if kind not in BOUND_KINDS:
            raise _fail(source, f"{where}.kind", f"expected one of {', '.join(BOUND_KINDS)}")
        src = rule.get("source", "")
        if not isinstance(src, str):
            raise _fail(source, f"{where}.source", "expected a string")
        max_ratio = rule.get("max_ratio")
        if max_ratio is not None:
            max_ratio = _number(source, f"{where}.max_ratio", max_ratio, 0.0, 1e6)
        min_ratio = rule.get("min_ratio")
        if min_ratio is not None:
            min_ratio = _number(source, f"{where}.min_ratio", min_ratio, 0.0, 1e6)
        if "max_drop_pct" in rule:
            if min_ratio is not None:
                raise _fail(source, f"{where}.max_drop_pct", "give min_ratio or max_drop_pct")
            drop = _number(source, f"{where}.max_drop_pct", rule["max_drop_pct"], 0.0, 100.0)
            min_ratio = 1 - drop / 100
        if max_ratio is None and min_ratio is None:
            raise _fail(source, where, "needs max_ratio, min_ratio or max_drop_pct")
        if max_ratio is not None and min_ratio is not None and min_ratio >= max_ratio:
            raise _fail(source, where, "min_ratio must be below max_ratio")
        rules.append(
            BoundRule(
                name=name,
                kind=kind,
                source=src,
                max_ratio=max_ratio,
                min_ratio=min_ratio,
                min_samples=_integer(source, f"{where}.min_samples", rule.get("min_samples", 5), 1),
                critical=_boolean(source, f"{where}.critical", rule.get("critical", True)),
                required=_boolean(source, f"{where}.required", rule.get("required", False)),
            )
        )
    return tuple(rules)
