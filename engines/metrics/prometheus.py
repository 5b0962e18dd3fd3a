"""Canary metrics from Prometheus (``prometheus-api-client``).

Counters are reduced to exact per-interval increments from the raw samples
(``selector[lookback]`` at the interval's end), not with ``increase()``:
``increase()`` extrapolates to the window edges, so its counts are not
integers and consecutive windows do not add up. Raw samples let us tile the
intervals exactly and detect restarts per process (see ``increments``).

Queries are templates with ``{service}``, ``{track}`` (canary | baseline) and
``{release}`` placeholders; they are filled only with validated names, so a
hostile service name cannot rewrite the query. Counter templates must be
series selectors (we append a range); gauge templates are full expressions
evaluated at the interval's end (aggregate them yourself, e.g. ``avg(...)``).

The client is synchronous (``requests``); every call runs in a thread with a
timeout. An unreachable or failing Prometheus never raises out of
:meth:`PrometheusSource.sample_interval`: it yields an interval with no data
and the reason, and the judge says NO_DATA.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from engines.errors import InvalidTargetInput
from engines.metrics.increments import (
    Point,
    counter_increase,
    cumulative_buckets,
    parse_le,
    reset_times,
)
from engines.metrics.records import TRACKS, ArmSample, IntervalSample
from engines.redact import redact_url, redact_urls_in

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def _frozen(mapping: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class PromQueries:
    """PromQL templates. Defaults fit the demo app scraped with a ``track``
    target label and the service as the job name."""

    requests: str = 'http_requests_total{job="{service}",track="{track}"}'
    errors: str = 'http_requests_total{job="{service}",track="{track}",code=~"5.."}'
    latency_buckets: str = 'http_request_duration_seconds_bucket{job="{service}",track="{track}"}'
    # business counters: name → selector (increments per interval)
    counters: Mapping[str, str] = field(default_factory=_frozen)
    # resource gauges: name → instant expression (CPU, memory, saturation)
    gauges: Mapping[str, str] = field(default_factory=_frozen)
    # the label that tells one process from another (restart detection)
    instance_label: str = "instance"


def validate_name(kind: str, value: str) -> str:
    """Service and release names go into PromQL strings: letters, digits and
    ``_ . : -`` only, so they cannot close a quote or a brace."""
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise InvalidTargetInput("prometheus", f"invalid {kind} name {value!r}")
    return value


def fill(template: str, service: str, track: str, release: str | None) -> str:
    """Substitute the placeholders (plain replacement: PromQL is full of
    braces, so ``str.format`` would not do)."""
    validate_name("service", service)
    if track not in TRACKS:
        raise InvalidTargetInput("prometheus", f"invalid track {track!r}")
    if "{release}" in template:
        if release is None:
            raise InvalidTargetInput("prometheus", f"query needs a release for {track}: {template}")
        validate_name("release", release)
    query = template.replace("{service}", service).replace("{track}", track)
    return query.replace("{release}", release or "")


class QueryFailed(Exception):
    """Prometheus could not be asked or refused the query."""


class PrometheusSource:
    """A :class:`~engines.metrics.records.MetricsSource` backed by Prometheus.

    ``staleness_s``: a series whose newest sample is older than this at the
    interval's end is stale (no data). ``base_lookback_s``: how far before the
    interval to look for the sample a counter's increase starts from.
    ``client``: anything with ``custom_query(query, params, timeout)`` (the
    ``PrometheusConnect`` by default; injectable for tests).
    """

    def __init__(
        self,
        url: str,
        queries: PromQueries | None = None,
        *,
        timeout_s: float = 5.0,
        staleness_s: float = 30.0,
        base_lookback_s: float = 300.0,
        releases: Mapping[str, str] | None = None,
        client: Any = None,
    ) -> None:
        self.url = url
        self.queries = queries or PromQueries()
        self.timeout_s = timeout_s
        self.staleness_s = staleness_s
        self.base_lookback_s = base_lookback_s
        self.releases = dict(releases or {})
        for release in self.releases.values():
            validate_name("release", release)
        self._client = client if client is not None else _default_client(url, timeout_s)

    async def _query(self, query: str, at_ts: float) -> list[dict[str, Any]]:
        def call() -> list[dict[str, Any]]:
            # prometheus_api_client has no type hints: its answer is Prometheus' result list.
            result: list[dict[str, Any]] = self._client.custom_query(
                query=query, params={"time": f"{at_ts:.3f}"}, timeout=self.timeout_s
            )
            return result

        try:
            return await asyncio.wait_for(asyncio.to_thread(call), self.timeout_s + 1)
        except TimeoutError:
            raise QueryFailed(
                f"prometheus at {redact_url(self.url)} timed out after {self.timeout_s:g}s"
            ) from None
        except Exception as exc:  # requests/urllib3/client errors: all mean no data
            cause = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            cause = redact_urls_in(cause, known=(self.url,))
            raise QueryFailed(
                f"prometheus at {redact_url(self.url)} unreachable or failing: {cause}"
            ) from None

    async def _range(self, selector: str, end_ts: float, lookback_s: float) -> list[dict[str, Any]]:
        return await self._query(f"{selector}[{math.ceil(lookback_s)}s]", end_ts)

    async def sample_interval(
        self,
        service: str,
        end_ts: float,
        interval_s: float,
        *,
        weight_pct: float | None = None,
    ) -> IntervalSample:
        """Both arms over ``(end_ts - interval_s, end_ts]``."""
        start_ts = end_ts - interval_s
        try:
            arms = await asyncio.gather(
                *(self._arm(service, track, start_ts, end_ts) for track in TRACKS)
            )
        except QueryFailed as exc:
            return IntervalSample(start_ts, interval_s, weight_pct, None, None, reason=str(exc))
        (baseline, why_b), (canary, why_c) = arms
        reasons = [r for r in (why_b, why_c) if r]
        return IntervalSample(
            start_ts,
            interval_s,
            weight_pct,
            baseline,
            canary,
            reason="; ".join(reasons) or None,
        )

    async def _arm(
        self, service: str, track: str, start_ts: float, end_ts: float
    ) -> tuple[ArmSample | None, str | None]:
        q = self.queries
        release = self.releases.get(track)
        lookback = end_ts - start_ts + self.base_lookback_s
        selectors = {
            "requests": fill(q.requests, service, track, release),
            "errors": fill(q.errors, service, track, release),
            "buckets": fill(q.latency_buckets, service, track, release),
        }
        for name, template in q.counters.items():
            selectors[f"counter:{name}"] = fill(template, service, track, release)
        keys = list(selectors)
        results = await asyncio.gather(*(self._range(selectors[k], end_ts, lookback) for k in keys))
        gauge_names = list(q.gauges)
        gauge_results = await asyncio.gather(
            *(self._query(fill(q.gauges[g], service, track, release), end_ts) for g in gauge_names)
        )
        by_role = dict(zip(keys, results, strict=True))
        return _build_arm(
            by_role,
            dict(zip(gauge_names, gauge_results, strict=True)),
            start_ts,
            end_ts,
            self.staleness_s,
            q.instance_label,
            track,
        )


def _points(series: dict[str, Any]) -> list[Point]:
    out = []
    for ts, value in series.get("values", []):
        try:
            out.append((float(ts), float(value)))
        except (TypeError, ValueError):
            continue
    return out


def _build_arm(
    by_role: dict[str, list[dict[str, Any]]],
    gauges: dict[str, list[dict[str, Any]]],
    start_ts: float,
    end_ts: float,
    staleness_s: float,
    instance_label: str,
    track: str,
) -> tuple[ArmSample | None, str | None]:
    """Per-interval increments for one arm from the raw range results."""
    # every counter series of one process, to find its restarts
    per_instance: dict[str, list[list[Point]]] = defaultdict(list)
    parsed: dict[str, list[tuple[dict[str, str], list[Point]]]] = {}
    for role, series_list in by_role.items():
        parsed[role] = []
        for series in series_list:
            labels = dict(series.get("metric", {}))
            points = _points(series)
            parsed[role].append((labels, points))
            per_instance[labels.get(instance_label, "")].append(points)
    resets = {inst: reset_times(lists, start_ts, end_ts) for inst, lists in per_instance.items()}

    def increase(labels: dict[str, str], points: list[Point]) -> float | None:
        inst_resets = resets.get(labels.get(instance_label, ""), frozenset())
        return counter_increase(points, start_ts, end_ts, staleness_s, inst_resets)

    fresh_instances = set()
    requests = 0.0
    for labels, points in parsed["requests"]:
        value = increase(labels, points)
        if value is not None:
            requests += value
            fresh_instances.add(labels.get(instance_label, ""))
    if not fresh_instances:
        return None, f"no fresh {track} request series"
    # only processes whose requests we counted, so errors stay a subset;
    # no error series at all means no errors, not no data
    errors = 0.0
    for labels, points in parsed["errors"]:
        if labels.get(instance_label, "") in fresh_instances:
            errors += increase(labels, points) or 0.0
    by_le: dict[float, float] = defaultdict(float)
    for labels, points in parsed["buckets"]:
        if labels.get(instance_label, "") not in fresh_instances or "le" not in labels:
            continue
        value = increase(labels, points)
        if value is None:
            continue
        try:
            by_le[parse_le(labels["le"])] += value
        except ValueError:
            continue
    counters: dict[str, float] = {}
    for role, parsed_series in parsed.items():
        if not role.startswith("counter:"):
            continue
        increases = [
            increase(labels, points)
            for labels, points in parsed_series
            if labels.get(instance_label, "") in fresh_instances
        ]
        found = [v for v in increases if v is not None]
        if found:
            counters[role.split(":", 1)[1]] = sum(found)
    gauge_values = {}
    for name, result in gauges.items():
        values = []
        for series in result:
            try:
                values.append(float(series["value"][1]))
            except (KeyError, IndexError, TypeError, ValueError):
                continue
        values = [v for v in values if math.isfinite(v)]
        if values:
            gauge_values[name] = sum(values) / len(values)
    buckets = cumulative_buckets(dict(by_le)) if math.inf in by_le else ()
    return (
        ArmSample.from_increments(requests, errors, buckets, gauge_values, counters),
        None,
    )


def _default_client(url: str, timeout_s: float) -> Any:
    """``PrometheusConnect`` without retries (a retry with back-off would
    outlive the interval) and without proxies from the environment (the
    metrics source is local or tunnelled, never through a proxy)."""
    import requests
    from prometheus_api_client import PrometheusConnect
    from urllib3.util.retry import Retry

    session = requests.Session()
    session.trust_env = False
    return PrometheusConnect(
        url=url,
        retry=Retry(total=0, connect=0, read=0, backoff_factor=0),
        session=session,
        timeout=timeout_s,
    )
