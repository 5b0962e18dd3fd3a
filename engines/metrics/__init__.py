"""Canary metrics: per-interval records from Prometheus or a direct scrape.

Both sources return :class:`IntervalSample` records, so the judge never knows
where the numbers came from.
"""

from engines.metrics.records import TRACKS, ArmSample, IntervalSample, MetricsSource

__all__ = ["TRACKS", "ArmSample", "IntervalSample", "MetricsSource"]
