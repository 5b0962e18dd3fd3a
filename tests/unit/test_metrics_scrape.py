"""The direct scraper with an injected fetcher: parse, increments, resets."""

from __future__ import annotations

import math

import pytest

from engines.errors import InvalidTargetInput, TargetUnreachable
from engines.metrics.scrape import DirectScraper, ScrapeTarget


def page(ok, errors, fast, total, checkouts=0):
    return "\n".join(
        [
            "# TYPE http_requests_total counter",
            f'http_requests_total{{code="200",version="v1"}} {ok}',
            *([f'http_requests_total{{code="500",version="v1"}} {errors}'] if errors else []),
            "# TYPE http_request_duration_seconds histogram",
            f'http_request_duration_seconds_bucket{{le="0.05"}} {fast}',
            f'http_request_duration_seconds_bucket{{le="+Inf"}} {total}',
            f"http_request_duration_seconds_sum {total * 0.03}",
            f"http_request_duration_seconds_count {total}",
            "# TYPE checkouts_total counter",
            f"checkouts_total {checkouts}",
            "",
        ]
    )


BASE = ScrapeTarget("baseline", "127.0.0.1", 9001)
CANARY = ScrapeTarget("canary", "127.0.0.1", 9002)


class Pages:
    """What each instance answers at the next scrape (an exception: down)."""

    def __init__(self):
        self.next = {}

    async def fetch(self, target):
        answer = self.next[target]
        if isinstance(answer, Exception):
            raise answer
        return answer


async def scraped(pages, steps):
    scraper = DirectScraper([BASE, CANARY], fetcher=pages.fetch, staleness_s=30, window=5)
    for ts, base, canary in steps:
        pages.next = {BASE: base, CANARY: canary}
        await scraper.scrape(now=ts)
    return scraper


async def test_increments_between_scrapes_per_arm():
    pages = Pages()
    scraper = await scraped(
        pages,
        [
            (0, page(1000, 10, 900, 1010), page(40, 0, 35, 40)),
            (60, page(3800, 38, 3400, 3838), page(190, 2, 170, 192)),
        ],
    )
    sample = await scraper.sample_interval("web", end_ts=60, interval_s=60, weight_pct=5)
    assert (sample.baseline.requests, sample.baseline.errors) == (2828, 28)
    assert (sample.canary.requests, sample.canary.errors) == (152, 2)
    assert sample.canary.latency_buckets == ((0.05, 135), (math.inf, 152))


async def test_canary_restart_counts_from_zero():
    pages = Pages()
    scraper = await scraped(
        pages,
        [
            (0, page(1000, 0, 900, 1000), page(500, 5, 450, 505)),
            (60, page(3000, 0, 2700, 3000), page(80, 1, 70, 81)),  # restarted
        ],
    )
    sample = await scraper.sample_interval("web", end_ts=60, interval_s=60)
    assert (sample.canary.requests, sample.canary.errors) == (81, 1)
    assert sample.canary.latency_buckets == ((0.05, 70), (math.inf, 81))


async def test_unreachable_instance_is_no_data_for_its_arm():
    pages = Pages()
    down = TargetUnreachable(CANARY.name, "connection refused")
    scraper = await scraped(
        pages,
        [
            (0, page(1000, 0, 900, 1000), page(40, 0, 35, 40)),
            (60, page(3000, 0, 2700, 3000), down),
            (120, page(5000, 0, 4500, 5000), down),
        ],
    )
    sample = await scraper.sample_interval("web", end_ts=120, interval_s=60)
    assert sample.canary is None and sample.baseline.requests == 2000
    assert "connection refused" in sample.reason


async def test_window_of_snapshots_is_bounded():
    pages = Pages()
    steps = [(t * 60, page(t * 100, 0, t * 90, t * 100), page(t, 0, t, t)) for t in range(9)]
    scraper = await scraped(pages, steps)
    assert all(len(snaps) == 5 for snaps in scraper._snapshots.values())


async def test_real_http_fetch_of_a_closed_port_is_unreachable():
    scraper = DirectScraper([ScrapeTarget("canary", "127.0.0.1", 1)], timeout_s=1)
    (snapshot,) = await scraper.scrape(now=0)
    assert snapshot.counters is None and "127.0.0.1:1" in snapshot.error


def test_targets_are_validated():
    with pytest.raises(InvalidTargetInput):
        ScrapeTarget("canary", "bad host", 80)
    with pytest.raises(InvalidTargetInput):
        ScrapeTarget("green", "127.0.0.1", 80)
