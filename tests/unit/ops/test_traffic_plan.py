"""Traffic plans: integer weights summing to 100, never a plan without a live backend."""

from __future__ import annotations

import textwrap

import pytest

from console.core.config import parse_config
from console.core.errors import Blocked
from console.core.ops.traffic import plan_traffic, split_share

CONFIG = parse_config(
    textwrap.dedent(
        """\
        [hosts.web-1]
        address = "local"
        publish_address = "127.0.0.11"
        [hosts.web-2]
        address = "local"
        publish_address = "127.0.0.12"
        [load_balancers.edge]
        kind = "nginx"
        [services.web]
        image = "127.0.0.1:5000/demo"
        hosts = ["web-1", "web-2"]
        load_balancer = "edge"
        listen = "127.0.0.1:8080"
        preview_listen = "127.0.0.1:8081"
        base_port = 18080
        """
    )
)
SERVICE = CONFIG.services["web"]
ENV = SERVICE.environments["production"]


def plan(slots, live, weight=0, preview=None, canary=None):
    return plan_traffic(SERVICE, ENV, CONFIG.hosts, slots, live, weight, preview, canary)


def test_shares_are_split_by_largest_remainder():
    assert split_share(5, ["a", "b"]) == {"a": 3, "b": 2}
    assert split_share(95, ["a", "b"]) == {"a": 48, "b": 47}


def test_blue_green_gives_the_live_color_everything_and_keeps_the_standby_at_zero():
    weights = plan({"blue": "v1", "green": "v2"}, "green", preview="blue").weights()
    assert weights == {"web-1-blue": 0, "web-2-blue": 0, "web-1-green": 50, "web-2-green": 50}


def test_a_canary_step_splits_by_weight_across_hosts():
    weights = plan({"blue": "v1", "green": "v2"}, "blue", 5, canary="green").weights()
    assert weights == {"web-1-blue": 48, "web-2-blue": 47, "web-1-green": 3, "web-2-green": 2}
    assert sum(weights.values()) == 100


def test_backends_point_at_each_hosts_publish_address_and_slot_port():
    backends = {b.name: (b.address, b.port) for b in plan({"blue": "v1"}, "blue").backends}
    assert backends == {"web-1-blue": ("127.0.0.11", 18080), "web-2-blue": ("127.0.0.12", 18080)}


def test_a_plan_whose_live_color_is_not_running_is_refused():
    with pytest.raises(Blocked, match="no live backend"):
        plan({"green": "v2"}, "blue")


def test_a_canary_weight_without_a_running_canary_is_refused():
    with pytest.raises(Blocked, match="no canary is running"):
        plan({"blue": "v1"}, "blue", 5, canary="green")
