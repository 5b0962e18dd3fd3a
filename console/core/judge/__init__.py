"""The automated canary judge (pure, synchronous, no I/O).

Feed :class:`Judge` one :class:`~engines.metrics.records.IntervalSample` per
evaluation interval; every call returns a :class:`Verdict`.
"""

from console.core.judge.eprocess import RateRatioEProcess, RatioGrid
from console.core.judge.judge import Judge
from console.core.judge.template import AnalysisTemplate, BoundRule
from console.core.judge.verdict import MetricVerdict, Outcome, Verdict

__all__ = [
    "AnalysisTemplate",
    "BoundRule",
    "Judge",
    "MetricVerdict",
    "Outcome",
    "RateRatioEProcess",
    "RatioGrid",
    "Verdict",
]
