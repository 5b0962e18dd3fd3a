"""The canary judge: fed one interval at a time, it answers at every look.

Pure and synchronous: no I/O, no clock. The live loop and the replay feed it
the same :class:`IntervalSample` records, so a recorded rollout replays to the
very same decisions.
"""

from __future__ import annotations

from collections.abc import Sequence

from console.core.judge import histogram, text
from console.core.judge.eprocess import RatioGrid
from console.core.judge.metrics import (
    BoundMetric,
    ErrorsMetric,
    LatencyMetric,
    RatioRule,
    TrafficGuard,
    quantile_name,
)
from console.core.judge.template import AnalysisTemplate
from console.core.judge.verdict import MetricVerdict, Outcome, Verdict, combine
from engines.metrics.records import IntervalSample


class Judge:
    """Decides PASS / FAIL / INCONCLUSIVE for one canary, look by look.

    ``baseline_reference``: the baseline's latency histogram *before the
    canary started* (cumulative by ``le``), from which the latency thresholds
    are chosen. Without it, the first intervals' baseline histograms are used
    and those intervals are not tested at the thresholds they chose (a
    threshold picked from the same counts it then tests would be biased).
    """

    def __init__(
        self,
        template: AnalysisTemplate,
        *,
        baseline_reference: Sequence[tuple[float, int]] | None = None,
    ) -> None:
        self.template = template
        self.grid = RatioGrid.build(
            include=(
                template.error_ratio_fail,
                template.error_ratio_pass,
                template.latency_ratio_fail,
                template.latency_ratio_pass,
            )
        )
        self.look = 0
        self.elapsed_s = 0.0
        self._traffic = TrafficGuard(template)
        self._errors = ErrorsMetric(
            self.grid,
            RatioRule(
                ratio_fail=template.error_ratio_fail,
                ratio_pass=template.error_ratio_pass,
                alpha_fail=template.errors_alpha_fail,
                alpha_pass=template.alpha_pass,
                min_soak_s=template.min_soak_s,
                min_canary_exposure=template.min_canary_requests,
                dispersion_guard=template.dispersion_guard,
            ),
        )
        self._latency: list[LatencyMetric] | None = None
        self._reference: dict[float, int] = {}
        # cumulative histograms of the tested intervals, for the p50/p95/p99 display
        self._canary_buckets: dict[float, int] = {}
        self._baseline_buckets: dict[float, int] = {}
        self._quantiles = ""
        self._bounds = [BoundMetric(rule) for rule in template.bounds]
        if baseline_reference is not None and template.latency_quantiles:
            self._choose_thresholds(tuple(baseline_reference))

    @property
    def thresholds_s(self) -> dict[str, float]:
        """Latency thresholds in use, by metric name (empty until chosen)."""
        return {m.name: m.threshold_s for m in self._latency or ()}

    def _choose_thresholds(self, reference: Sequence[tuple[float, int]]) -> bool:
        t = self.template
        chosen = histogram.choose_thresholds(
            reference,
            t.latency_quantiles,
            min_requests=t.min_reference_requests,
            floor_s=t.latency_floor_ms / 1000.0,
        )
        if not chosen:
            return False
        first = t.latency_quantiles[0]
        # where the floor lifted a threshold above its quantile, the baseline is
        # faster than the floor: such a threshold sees too few slow requests to
        # prove "no worse", and differences below it are not regressions
        unfloored = dict(
            histogram.choose_thresholds(
                reference, t.latency_quantiles, min_requests=t.min_reference_requests
            )
        )
        self._latency = []
        for q, le in chosen:
            slower = histogram.exceedances(reference, le)
            never_slower = slower is not None and slower[0] == 0
            floored = unfloored.get(q, le) < le
            can_pass = q == first and not never_slower and not floored
            if never_slower:
                because = "the baseline was never this slow, so this threshold only fails"
            elif floored:
                because = f"the baseline is faster than the {t.latency_floor_ms:g} ms floor, so this threshold only fails"
            else:
                because = "tail thresholds only fail"
            rule = RatioRule(
                ratio_fail=t.latency_ratio_fail,
                ratio_pass=t.latency_ratio_pass if can_pass else None,
                alpha_fail=t.latency_alpha_fail,
                alpha_pass=t.alpha_pass,
                min_soak_s=t.min_soak_s,
                min_canary_exposure=t.min_canary_requests,
                dispersion_guard=t.dispersion_guard,
                fail_only_because=because,
            )
            self._latency.append(LatencyMetric(q, le, self.grid, rule, required=can_pass))
        return True

    def observe(self, sample: IntervalSample) -> Verdict:
        """Feed the next interval and judge everything seen so far."""
        self.look += 1
        self.elapsed_s += sample.interval_s
        self._traffic.observe(sample)
        self._errors.observe(sample)
        latency_pending = False
        if self.template.latency_quantiles:
            if self._latency is None:
                latency_pending = True
                if sample.baseline is not None and sample.baseline.latency_buckets:
                    histogram.add(self._reference, sample.baseline.latency_buckets)
                    self._choose_thresholds(histogram.as_buckets(self._reference))
            else:
                for metric in self._latency:
                    metric.observe(sample)
                self._add_display_histograms(sample)
        for bound in self._bounds:
            bound.observe(sample)
        return self._verdict(latency_pending)

    def _verdict(self, latency_pending: bool) -> Verdict:
        elapsed = self.elapsed_s
        metrics: list[MetricVerdict] = [
            self._traffic.verdict(elapsed),
            self._errors.verdict(elapsed),
        ]
        if latency_pending:
            metrics.extend(self._pending_latency(elapsed))
        else:
            metrics.extend(m.verdict(elapsed, self._quantiles) for m in self._latency or ())
        metrics.extend(b.verdict(elapsed) for b in self._bounds)
        ordered = tuple(metrics)
        return Verdict(combine(ordered), ordered, self.look, elapsed)

    def _add_display_histograms(self, sample: IntervalSample) -> None:
        if sample.canary is None or sample.baseline is None:
            return
        if not sample.canary.latency_buckets or not sample.baseline.latency_buckets:
            return
        histogram.add(self._canary_buckets, sample.canary.latency_buckets)
        histogram.add(self._baseline_buckets, sample.baseline.latency_buckets)

        def summary(buckets: dict[float, int]) -> str:
            ordered = histogram.as_buckets(buckets)
            values = [histogram.quantile(ordered, q) for q in (0.5, 0.95, 0.99)]
            return "/".join(text.seconds_short(v) for v in values)

        self._quantiles = (
            f"p50/p95/p99 canary {summary(self._canary_buckets)}ms"
            f" vs baseline {summary(self._baseline_buckets)}ms"
        )

    def _pending_latency(self, elapsed_s: float) -> list[MetricVerdict]:
        """Latency metrics before thresholds exist: NO_DATA, saying why."""
        t = self.template
        if self._latency is not None:
            why = "this interval's baseline histogram chose the thresholds; tested from the next"
        else:
            seen = histogram.total(histogram.as_buckets(self._reference)) or 0
            why = (
                f"choosing thresholds: {seen} baseline requests in histograms"
                f" < {t.min_reference_requests} needed"
            )
        out = []
        for i, q in enumerate(t.latency_quantiles):
            name = quantile_name(q)
            line = f"{name} NO_DATA {why} · {text.duration(elapsed_s)}"
            out.append(MetricVerdict(name, Outcome.NO_DATA, line, critical=True, required=i == 0))
        return out
