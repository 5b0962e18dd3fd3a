"""Canary metrics by scraping each instance's ``/metrics`` directly.

The embedded default when no Prometheus is configured: every interval, GET
each instance's metrics page (Prometheus text format, parsed with
``prometheus_client``'s parser), keep a bounded window of snapshots in memory,
and reduce them to the same per-interval records the Prometheus source gives,
with the same reset handling. The fetcher is injectable, so the console can
scrape through an SSH tunnel instead of a direct connection.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from prometheus_client.parser import text_string_to_metric_families

from engines.errors import EngineOperationFailed, InvalidTargetInput, TargetUnreachable
from engines.http import http_get
from engines.metrics.increments import (
    Point,
    counter_increase,
    cumulative_buckets,
    parse_le,
    reset_times,
)
from engines.metrics.records import TRACKS, ArmSample, IntervalSample

HOST_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]  # (sample name, sorted labels)


def _frozen(mapping: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class ScrapeTarget:
    """One instance: its track, and where its metrics page is."""

    track: str
    host: str
    port: int
    path: str = "/metrics"

    def __post_init__(self) -> None:
        if self.track not in TRACKS:
            raise InvalidTargetInput(self.name, f"invalid track {self.track!r}")
        if not HOST_RE.fullmatch(self.host):
            raise InvalidTargetInput(self.name, "invalid host")
        if not 0 < self.port < 65536:
            raise InvalidTargetInput(self.name, "invalid port")
        if not self.path.startswith("/") or any(c in self.path for c in " \r\n"):
            raise InvalidTargetInput(self.name, "invalid metrics path")

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ScrapeMapping:
    """Which samples mean what. Defaults fit the demo app."""

    requests: str = "http_requests_total"
    error_label: str = "code"
    error_pattern: str = r"5.."
    latency_histogram: str = "http_request_duration_seconds"
    counters: Mapping[str, str] = field(default_factory=_frozen)  # name → sample name
    gauges: Mapping[str, str] = field(default_factory=_frozen)  # name → sample name


Fetcher = Callable[[ScrapeTarget], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One scrape of one instance: counters by series, gauges by name; or the
    reason it failed."""

    ts: float
    counters: Mapping[SeriesKey, float] | None
    gauges: Mapping[str, float]
    error: str | None = None


async def http_fetch(target: ScrapeTarget, timeout_s: float) -> str:
    """GET the metrics page directly (through ``engines.http``, whose body
    limit bounds the page); anything but 200 fails."""
    response = await http_get(
        target.host,
        target.port,
        target.path,
        timeout_s=timeout_s,
        target_name=target.name,
        headers={"Accept": "text/plain"},
    )
    if response.status != 200:
        raise EngineOperationFailed(target.name, f"metrics answered HTTP {response.status}")
    return response.text


def parse_page(
    text: str, mapping: ScrapeMapping
) -> tuple[dict[SeriesKey, float], dict[str, float]]:
    """Counter series we care about, and gauges, from a metrics page."""
    wanted = {mapping.requests, f"{mapping.latency_histogram}_bucket", *mapping.counters.values()}
    gauge_names = set(mapping.gauges.values())
    counters: dict[SeriesKey, float] = {}
    gauges: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in wanted:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                counters[key] = float(sample.value)
            elif sample.name in gauge_names:
                gauges[sample.name] += float(sample.value)
    return counters, dict(gauges)


class DirectScraper:
    """A :class:`~engines.metrics.records.MetricsSource` that scrapes instances.

    Call :meth:`scrape` at every interval boundary (or let :meth:`run` do it);
    :meth:`sample_interval` then reduces the snapshots around the interval to
    an :class:`IntervalSample`. ``window`` bounds the snapshots kept per
    instance; ``staleness_s`` is how old an instance's newest successful
    scrape may be at the interval's end before it counts as missing.
    """

    def __init__(
        self,
        targets: Sequence[ScrapeTarget],
        mapping: ScrapeMapping | None = None,
        *,
        fetcher: Fetcher | None = None,
        timeout_s: float = 3.0,
        window: int = 120,
        staleness_s: float = 90.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not targets:
            raise InvalidTargetInput("scrape", "no instances to scrape")
        self.targets = tuple(targets)
        self.mapping = mapping or ScrapeMapping()
        self.timeout_s = timeout_s
        self.staleness_s = staleness_s
        self._clock = clock
        self._fetch: Fetcher = fetcher or (lambda target: http_fetch(target, timeout_s))
        self._snapshots: dict[ScrapeTarget, deque[Snapshot]] = {
            t: deque(maxlen=window) for t in self.targets
        }
        self._error_re = re.compile(self.mapping.error_pattern)

    async def _scrape_one(self, target: ScrapeTarget, ts: float) -> Snapshot:
        try:
            text = await asyncio.wait_for(self._fetch(target), self.timeout_s + 1)
            counters, gauges = parse_page(text, self.mapping)
        except TimeoutError:
            return Snapshot(ts, None, {}, f"{target.name}: timed out")
        except (TargetUnreachable, EngineOperationFailed) as exc:
            return Snapshot(ts, None, {}, str(exc))
        except (ValueError, OSError) as exc:
            return Snapshot(ts, None, {}, f"{target.name}: unusable metrics page: {exc}")
        return Snapshot(ts, MappingProxyType(counters), MappingProxyType(gauges))

    async def scrape(self, now: float | None = None) -> list[Snapshot]:
        """Scrape every instance concurrently and remember the results."""
        ts = self._clock() if now is None else now
        snapshots = await asyncio.gather(*(self._scrape_one(t, ts) for t in self.targets))
        for target, snapshot in zip(self.targets, snapshots, strict=True):
            self._snapshots[target].append(snapshot)
        return list(snapshots)

    async def run(self, interval_s: float, stop: asyncio.Event, *, max_scrapes: int) -> None:
        """Scrape every ``interval_s`` until ``stop`` is set or ``max_scrapes``."""
        for _ in range(max_scrapes):
            await self.scrape()
            try:
                await asyncio.wait_for(stop.wait(), interval_s)
                return
            except TimeoutError:
                continue

    async def sample_interval(
        self,
        service: str,
        end_ts: float,
        interval_s: float,
        *,
        weight_pct: float | None = None,
    ) -> IntervalSample:
        """Both arms over ``(end_ts - interval_s, end_ts]`` from the snapshots
        (scrape at ``end_ts`` first; this does not scrape)."""
        start_ts = end_ts - interval_s
        arms: dict[str, ArmSample | None] = {}
        reasons = []
        for track in TRACKS:
            arm, why = self._arm(track, start_ts, end_ts)
            arms[track] = arm
            if why:
                reasons.append(why)
        return IntervalSample(
            start_ts,
            interval_s,
            weight_pct,
            arms["baseline"],
            arms["canary"],
            reason="; ".join(reasons) or None,
        )

    def _arm(
        self, track: str, start_ts: float, end_ts: float
    ) -> tuple[ArmSample | None, str | None]:
        m = self.mapping
        requests = errors = 0.0
        by_le: dict[float, float] = defaultdict(float)
        counters: dict[str, float] = defaultdict(float)
        gauges: dict[str, list[float]] = defaultdict(list)
        fresh = 0
        failures = []
        for target in (t for t in self.targets if t.track == track):
            good = [s for s in self._snapshots[target] if s.counters is not None and s.ts <= end_ts]
            latest = self._snapshots[target][-1] if self._snapshots[target] else None
            if not good or good[-1].ts < end_ts - self.staleness_s:
                failures.append(
                    latest.error if latest and latest.error else f"{target.name}: stale"
                )
                continue
            series: dict[SeriesKey, list[Point]] = defaultdict(list)
            for snap in good:
                for key, value in snap.counters.items():  # type: ignore[union-attr]
                    series[key].append((snap.ts, value))
            resets = reset_times(series.values(), start_ts, end_ts)
            got_requests = False
            for (name, labels), points in series.items():
                value = counter_increase(points, start_ts, end_ts, self.staleness_s, resets)
                if value is None:
                    continue
                label_map = dict(labels)
                if name == m.requests:
                    got_requests = True
                    requests += value
                    if self._error_re.fullmatch(label_map.get(m.error_label, "")):
                        errors += value
                elif name == f"{m.latency_histogram}_bucket" and "le" in label_map:
                    try:
                        by_le[parse_le(label_map["le"])] += value
                    except ValueError:
                        continue
                for counter_name, sample_name in m.counters.items():
                    if name == sample_name:
                        counters[counter_name] += value
            if not got_requests:
                failures.append(f"{target.name}: no {m.requests} series")
                continue
            fresh += 1
            for gauge_name, sample_name in m.gauges.items():
                if sample_name in good[-1].gauges:
                    gauges[gauge_name].append(good[-1].gauges[sample_name])
        if fresh == 0:
            why = "; ".join(failures) if failures else f"no {track} instances"
            return None, f"{track}: {why}"
        buckets = cumulative_buckets(dict(by_le)) if math.inf in by_le else ()
        gauge_values = {k: sum(v) / len(v) for k, v in gauges.items() if v}
        arm = ArmSample.from_increments(requests, errors, buckets, gauge_values, dict(counters))
        return arm, None
