"""What the judge says: one verdict per metric and one overall."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    NO_DATA = "no_data"


@dataclass(frozen=True, slots=True)
class MetricVerdict:
    """One metric at one look. ``explanation`` is exactly one line whose
    numbers reproduce the decision. ``critical``: its FAIL fails the canary;
    ``required``: its PASS is needed to pass the canary."""

    name: str
    verdict: Outcome
    explanation: str
    critical: bool
    required: bool


@dataclass(frozen=True, slots=True)
class Verdict:
    """The overall decision at one look: any critical FAIL → fail; every
    required metric PASS → pass; otherwise inconclusive."""

    overall: Outcome
    metrics: tuple[MetricVerdict, ...]
    look: int
    elapsed_s: float

    @property
    def decided(self) -> bool:
        return self.overall in (Outcome.PASS, Outcome.FAIL)

    def metric(self, name: str) -> MetricVerdict:
        for metric in self.metrics:
            if metric.name == name:
                return metric
        raise KeyError(name)


def combine(metrics: tuple[MetricVerdict, ...]) -> Outcome:
    if any(m.critical and m.verdict is Outcome.FAIL for m in metrics):
        return Outcome.FAIL
    required = [m for m in metrics if m.required]
    if required and all(m.verdict is Outcome.PASS for m in required):
        return Outcome.PASS
    return Outcome.INCONCLUSIVE
