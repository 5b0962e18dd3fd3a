"""The per-interval records every metrics source produces and the judge consumes.

Prometheus and the direct scraper both reduce what they saw to these records, so
the judge never knows (or cares) where the numbers came from. Pure and stdlib
only: ``console.core`` imports it, and it must stay free of I/O.

Counts are *increments over one evaluation interval* (not cumulative since the
process started): requests served, errors among them, and Prometheus-style
cumulative-by-``le`` latency bucket counts for requests finished in the interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

TRACKS = ("baseline", "canary")


def _empty() -> Mapping[str, float]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ArmSample:
    """What one arm (all instances of one track) served during one interval.

    ``latency_buckets`` is ``((le_s, cumulative_count), ...)`` sorted by ``le_s``,
    the last one usually ``math.inf``; empty when the arm exposes no histogram.
    ``gauges`` are point values at the interval's end (CPU, memory, saturation);
    ``counters`` are increments of business counters (e.g. checkouts).
    """

    requests: int
    errors: int = 0
    latency_buckets: tuple[tuple[float, int], ...] = ()
    gauges: Mapping[str, float] = field(default_factory=_empty)
    counters: Mapping[str, float] = field(default_factory=_empty)

    def __post_init__(self) -> None:
        if self.requests < 0 or self.errors < 0:
            raise ValueError("requests and errors are increments and cannot be negative")
        if self.errors > self.requests:
            raise ValueError(f"errors ({self.errors}) exceed requests ({self.requests})")
        les = [le for le, _ in self.latency_buckets]
        if les != sorted(les) or len(set(les)) != len(les):
            raise ValueError("latency buckets must be sorted by le without duplicates")

    @classmethod
    def from_increments(
        cls,
        requests: float,
        errors: float,
        latency_buckets: tuple[tuple[float, int], ...] = (),
        gauges: Mapping[str, float] | None = None,
        counters: Mapping[str, float] | None = None,
    ) -> ArmSample:
        """Build from measured counter increments, rounding them and clamping
        errors to requests: around a counter reset the request and error
        series can be scraped either side of the restart, and a record must
        still be self-consistent."""
        req = max(0, round(requests))
        return cls(
            requests=req,
            errors=min(req, max(0, round(errors))),
            latency_buckets=latency_buckets,
            gauges=MappingProxyType(dict(gauges or {})),
            counters=MappingProxyType(dict(counters or {})),
        )

    @property
    def latency_count(self) -> int | None:
        """Requests the histogram saw (its ``+Inf`` bucket), None without one."""
        if not self.latency_buckets or not math.isinf(self.latency_buckets[-1][0]):
            return None
        return self.latency_buckets[-1][1]


@dataclass(frozen=True, slots=True)
class IntervalSample:
    """Both arms over one evaluation interval ``(start_ts, start_ts + interval_s]``.

    An arm is ``None`` when there is no data for it (series absent, instances
    unreachable, stale scrape, metrics source down); ``reason`` then says why, so
    the judge can explain its NO_DATA instead of guessing.
    """

    start_ts: float
    interval_s: float
    weight_pct: float | None
    baseline: ArmSample | None
    canary: ArmSample | None
    reason: str | None = None

    @property
    def end_ts(self) -> float:
        return self.start_ts + self.interval_s

    def arm(self, track: str) -> ArmSample | None:
        if track not in TRACKS:
            raise ValueError(f"unknown track {track!r}")
        return self.baseline if track == "baseline" else self.canary


class MetricsSource(Protocol):
    """Anything that can report one interval: Prometheus, the direct scraper."""

    async def sample_interval(
        self,
        service: str,
        end_ts: float,
        interval_s: float,
        *,
        weight_pct: float | None = None,
    ) -> IntervalSample:
        """Both arms over ``(end_ts - interval_s, end_ts]``; never raises for
        an unreachable source, it returns ``None`` arms with a reason instead.
        ``weight_pct`` is the canary's traffic share then, when the caller knows it."""
        ...
