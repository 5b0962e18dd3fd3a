"""The Prometheus source against a fake client: queries, increments, no data."""

from __future__ import annotations

import math

import pytest

from engines.errors import InvalidTargetInput
from engines.metrics.prometheus import PrometheusSource, PromQueries, fill


def series(labels, points):
    return {"metric": labels, "values": [[ts, str(v)] for ts, v in points]}


class FakeClient:
    """Answers range selectors from a table keyed by (role, track)."""

    def __init__(self, table, fail=None):
        self.table = table
        self.fail = fail
        self.queries = []

    def custom_query(self, query, params=None, timeout=None):
        self.queries.append((query, params))
        if self.fail:
            raise self.fail
        track = "canary" if 'track="canary"' in query else "baseline"
        if query.startswith("avg("):
            return [{"metric": {}, "value": [0, "0.5" if track == "canary" else "0.25"]}]
        if "checkouts" in query:
            role = "checkouts"
        elif "_bucket" in query:
            role = "buckets"
        elif 'code=~"5.."' in query:
            role = "errors"
        else:
            role = "requests"
        return self.table.get((role, track), [])


def table_for(canary_errors=True):
    inst = {"instance": "10.0.0.1:8000"}
    table = {
        ("requests", "baseline"): [
            series({**inst, "code": "200"}, [(0, 1000), (60, 1950)]),
            series({**inst, "code": "500"}, [(0, 10), (60, 60)]),
        ],
        ("errors", "baseline"): [series({**inst, "code": "500"}, [(0, 10), (60, 60)])],
        ("requests", "canary"): [series({**inst, "code": "200"}, [(0, 50), (60, 150)])],
        ("buckets", "canary"): [
            series({**inst, "le": "0.1"}, [(0, 40), (60, 120)]),
            series({**inst, "le": "+Inf"}, [(0, 50), (60, 150)]),
        ],
    }
    if canary_errors:
        table[("errors", "canary")] = [series({**inst, "code": "500"}, [(0, 1), (60, 3)])]
    return table


async def test_counts_are_exact_increments_per_arm():
    source = PrometheusSource("http://127.0.0.1:1", client=FakeClient(table_for()))
    sample = await source.sample_interval("web", end_ts=60, interval_s=60, weight_pct=5)
    assert (sample.baseline.requests, sample.baseline.errors) == (1000, 50)
    assert sample.canary.latency_buckets == ((0.1, 80), (math.inf, 100))
    assert sample.weight_pct == 5


async def test_missing_error_series_means_zero_errors_not_no_data():
    source = PrometheusSource(
        "http://127.0.0.1:1", client=FakeClient(table_for(canary_errors=False))
    )
    sample = await source.sample_interval("web", end_ts=60, interval_s=60)
    assert sample.canary is not None
    assert sample.canary.errors == 0


async def test_missing_request_series_is_no_data_with_a_reason():
    table = table_for()
    del table[("requests", "canary")]
    source = PrometheusSource("http://127.0.0.1:1", client=FakeClient(table))
    sample = await source.sample_interval("web", end_ts=60, interval_s=60)
    assert sample.canary is None and sample.baseline is not None
    assert "canary" in sample.reason


async def test_unreachable_prometheus_is_an_interval_without_data():
    source = PrometheusSource(
        "http://127.0.0.1:1", client=FakeClient({}, fail=ConnectionError("refused"))
    )
    sample = await source.sample_interval("web", end_ts=60, interval_s=60)
    assert sample.canary is None and sample.baseline is None
    assert "unreachable" in sample.reason


async def test_queries_ask_for_raw_samples_at_the_interval_end():
    client = FakeClient(table_for())
    source = PrometheusSource("http://127.0.0.1:1", client=client, base_lookback_s=300)
    await source.sample_interval("web", end_ts=600, interval_s=60)
    query, params = client.queries[0]
    assert query.endswith("[360s]")
    assert params == {"time": "600.000"}


def test_placeholders_are_filled_with_validated_names_only():
    q = PromQueries()
    assert (
        fill(q.requests, "web", "canary", None) == 'http_requests_total{job="web",track="canary"}'
    )
    with pytest.raises(InvalidTargetInput):
        fill(q.requests, 'web"} or vector(1) #', "canary", None)
    with pytest.raises(InvalidTargetInput):
        fill('x{release="{release}"}', "web", "canary", None)
    assert fill('x{v="{release}"}', "web", "canary", "v2.1") == 'x{v="v2.1"}'


async def test_business_counters_and_gauges_are_sampled_per_arm():
    table = table_for()
    inst = {"instance": "10.0.0.1:8000"}
    table[("checkouts", "canary")] = [series(inst, [(0, 5), (30, 1), (60, 7)])]  # restart
    table[("checkouts", "baseline")] = [series(inst, [(0, 100), (60, 190)])]
    queries = PromQueries(
        counters={"checkouts": 'checkouts_total{job="{service}",track="{track}"}'},
        gauges={"cpu": 'avg(rate(cpu_seconds_total{job="{service}",track="{track}"}[1m]))'},
    )
    source = PrometheusSource("http://127.0.0.1:1", queries, client=FakeClient(table))
    sample = await source.sample_interval("web", end_ts=60, interval_s=60)
    assert sample.canary.counters == {"checkouts": 7}
    assert sample.baseline.counters == {"checkouts": 90}
    assert sample.canary.gauges == {"cpu": 0.5}


async def test_a_prometheus_password_never_reaches_the_reason():
    url = "http://metrics:S3CRETPW@127.0.0.1:1/prom"
    failure = ConnectionError(f"Max retries exceeded with url: {url}/api/v1/query")
    source = PrometheusSource(url, client=FakeClient({}, fail=failure))
    sample = await source.sample_interval("web", end_ts=60, interval_s=60)
    assert "unreachable" in sample.reason and "S3CRETPW" not in sample.reason
