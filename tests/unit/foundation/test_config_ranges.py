"""Config hardening: no value switches a safety check off, and ``config check``
refuses what a deploy would refuse later, each as one ``file:line`` error."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from console.core.config import load_config, loader, parse_config
from console.core.config.loader import MAX_CONFIG_BYTES
from console.core.config.validate import parse_duration_s
from console.core.errors import ConfigInvalid
from tests.unit.foundation.test_config_validation import GOOD, errors_of

# GOOD's last line is 14 (base_port); a key appended to [services.web] lands on line 15.
SERVICE_LINE = 15


def with_service_key(line: str) -> str:
    return GOOD + line + "\n"


def only_error(text: str) -> str:
    errors = errors_of(text)
    assert len(errors) == 1, errors
    return errors[0]


# ---------------------------------------------------------------- numbers


def test_nan_max_error_rate_is_refused():
    assert only_error(with_service_key("max_error_rate = nan")) == (
        "shipdeck.toml:15: services.web.max_error_rate: expected a number in [0, 1], got nan"
    )


def test_max_error_rate_above_one_is_refused():
    assert "expected a number in [0, 1], got 1.5" in only_error(
        with_service_key("max_error_rate = 1.5")
    )


def test_max_error_rate_of_zero_and_one_are_accepted():
    for value in ("0", "1", "0.25"):
        service = parse_config(with_service_key(f"max_error_rate = {value}")).services["web"]
        assert service.max_error_rate == float(value)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "0.5", "3601"])
def test_lock_lease_outside_one_second_to_one_hour_is_refused(value):
    assert only_error(f"lock_lease_s = {value}\n" + GOOD).startswith(
        "shipdeck.toml:1: lock_lease_s: expected a number in [1, 3600]"
    )


def test_infinite_post_deploy_verify_is_refused():
    assert only_error(with_service_key("post_deploy_verify = inf")) == (
        "shipdeck.toml:15: services.web.post_deploy_verify: invalid duration inf: must be a finite number"
    )


def test_post_deploy_verify_of_zero_still_means_skip_verification():
    service = parse_config(with_service_key('post_deploy_verify = "0s"')).services["web"]
    assert service.post_deploy_verify_s == 0.0


def test_post_deploy_verify_longer_than_a_day_is_refused():
    assert "at most 86400s" in only_error(with_service_key('post_deploy_verify = "25h"'))


def test_four_hundred_digit_duration_number_is_refused_without_overflow():
    error = only_error(with_service_key("post_deploy_verify = " + "9" * 400))
    assert "services.web.post_deploy_verify: invalid duration" in error and len(error) < 200


def test_four_hundred_digit_duration_string_is_refused():
    error = only_error(with_service_key(f'post_deploy_verify = "{"9" * 400}s"'))
    assert error.startswith("shipdeck.toml:15: services.web.post_deploy_verify: invalid duration")


def test_infinite_canary_step_duration_is_refused():
    text = GOOD + (
        '[[services.web.canary_steps]]\nanalysis = "default"\nduration = inf\n'
        "[[services.web.canary_steps]]\nweight = 100\n"
    )
    assert only_error(text) == (
        "shipdeck.toml:17: services.web.canary_steps[0].duration: invalid duration inf: must be a finite number"
    )


def test_zero_length_analysis_step_is_refused():
    text = GOOD + (
        '[[services.web.canary_steps]]\nanalysis = "default"\nduration = "0s"\n'
        "[[services.web.canary_steps]]\nweight = 100\n"
    )
    assert "must be longer than 0s" in only_error(text)


def test_canary_pause_longer_than_a_week_is_refused():
    text = GOOD + (
        '[[services.web.canary_steps]]\npause = "169h"\n[[services.web.canary_steps]]\nweight = 100\n'
    )
    assert "canary_steps[0].pause: invalid duration '169h': at most 604800s" in only_error(text)


def test_canary_weight_zero_is_refused():
    text = (
        GOOD
        + "[[services.web.canary_steps]]\nweight = 0\n[[services.web.canary_steps]]\nweight = 100\n"
    )
    assert "canary_steps[0].weight: expected an integer 1-100, got 0" in only_error(text)


def test_negative_health_timeout_is_refused():
    assert only_error(with_service_key("health_timeout_s = -1")) == (
        "shipdeck.toml:15: services.web.health_timeout_s: expected a number in (0, 3600], got -1"
    )


def test_nan_connect_timeout_is_refused():
    text = GOOD.replace(
        'known_hosts = "/tmp/kh"', 'known_hosts = "/tmp/kh"\nconnect_timeout_s = nan'
    )
    assert only_error(text).startswith(
        "shipdeck.toml:4: hosts.web-1.connect_timeout_s: expected a number in (0, 300]"
    )


def test_infinite_scrape_interval_is_refused():
    text = GOOD + "[metrics]\nscrape_interval_s = inf\n"
    assert "metrics.scrape_interval_s: expected a number in (0, 3600], got inf" in only_error(text)


def test_zero_query_timeout_is_refused():
    text = GOOD + "[metrics]\nquery_timeout_s = 0\n"
    assert "metrics.query_timeout_s: expected a number in (0, 300], got 0" in only_error(text)


def test_nan_drill_age_is_refused():
    assert "drill_max_age_days: expected a number in (0, 3650]" in only_error(
        with_service_key("drill_max_age_days = nan")
    )


def test_huge_releases_to_keep_is_refused():
    assert "releases_to_keep: expected an integer 0-1000" in only_error(
        with_service_key("releases_to_keep = " + "9" * 30)
    )


def test_huge_integer_in_an_analysis_template_is_refused_without_overflow():
    text = GOOD + "[analysis.default]\ninterval_s = " + "9" * 400 + "\n"
    assert only_error(text) == (
        "shipdeck.toml:16: analysis.default.interval_s: number out of range: expected at most 2^53"
    )


def test_unreachable_min_samples_in_an_analysis_bound_is_refused():
    text = GOOD + "[analysis.default]\nbounds = { cpu = { max_ratio = 2, min_samples = 99999 } }\n"
    assert "analysis.default.bounds.cpu.min_samples: expected an integer at most 10000" in (
        only_error(text)
    )


def test_parse_duration_refuses_nan_infinity_and_huge_values():
    for value in (float("nan"), float("inf"), 10**400, "9" * 400, "1e9s"):
        assert isinstance(parse_duration_s(value), str), value


def test_parse_duration_reads_units():
    assert [parse_duration_s(v) for v in ("500ms", "30s", "10m", "1h", 90)] == [
        0.5,
        30.0,
        600.0,
        3600.0,
        90.0,
    ]


# ---------------------------------------------------------------- what deploys refuse


def test_service_name_with_a_trailing_newline_is_refused():
    errors = errors_of(GOOD.replace("[services.web]", '[services."web\\n"]'))
    assert errors == [
        "shipdeck.toml:1: services.web\\n: invalid name 'web\\n': use [a-z0-9][a-z0-9-]{0,62}"
    ]


def test_image_with_a_trailing_newline_is_refused():
    text = GOOD.replace('"127.0.0.1:5000/demo"', '"127.0.0.1:5000/demo\\n"')
    assert only_error(text).startswith(
        "shipdeck.toml:9: services.web.image: invalid image repository"
    )


def test_health_path_with_a_query_is_refused_like_the_lb_writer_does():
    assert only_error(with_service_key('health_path = "/h?x=1"')).startswith(
        "shipdeck.toml:15: services.web.health_path: invalid health path '/h?x=1'"
    )


def test_smoke_path_with_crlf_is_refused():
    text = GOOD + '[[services.web.smoke]]\npath = "/a\\r\\nX: y"\n'
    assert only_error(text).startswith(
        "shipdeck.toml:16: services.web.smoke[0].path: invalid request path"
    )


def test_smoke_status_outside_100_to_599_is_refused():
    text = GOOD + '[[services.web.smoke]]\npath = "/a"\nstatus = 7\n'
    assert only_error(text) == (
        "shipdeck.toml:17: services.web.smoke[0].status: invalid HTTP status 7: expected an integer 100-599"
    )


def test_host_name_as_publish_address_is_refused():
    text = GOOD.replace(
        'known_hosts = "/tmp/kh"', 'known_hosts = "/tmp/kh"\npublish_address = "example.com"'
    )
    assert only_error(text).startswith(
        "shipdeck.toml:4: hosts.web-1.publish_address: invalid publish address 'example.com'"
    )


def test_ipv6_publish_address_is_refused_because_the_lb_writers_take_ipv4():
    text = GOOD.replace(
        'known_hosts = "/tmp/kh"', 'known_hosts = "/tmp/kh"\npublish_address = "::1"'
    )
    assert "invalid publish address '::1'" in only_error(text)


@pytest.mark.parametrize("socket", ["", "   ", "docker.sock", "/run/docker\\n.sock"])
def test_docker_socket_must_be_an_absolute_single_line_path(socket):
    text = GOOD.replace(
        'known_hosts = "/tmp/kh"', f'known_hosts = "/tmp/kh"\ndocker_socket = "{socket}"'
    )
    assert only_error(text).startswith("shipdeck.toml:4: hosts.web-1.docker_socket: invalid")


def test_ipv6_listen_address_is_refused_with_the_reason():
    text = GOOD.replace('listen = "127.0.0.1:8080"', 'listen = "[::1]:8080"')
    assert (
        "services.web.listen: invalid listen address '[::1]:8080': IPv6 listeners are not supported"
        in (only_error(text))
    )


def test_non_canonical_ipv4_listen_address_is_refused():
    text = GOOD.replace('listen = "127.0.0.1:8080"', 'listen = "127.1:8080"')
    assert "services.web.listen: invalid listen address '127.1:8080'" in only_error(text)


def test_ssh_user_the_ssh_engine_refuses_is_refused():
    text = GOOD.replace("ssh://root@", "ssh://Root@")
    assert only_error(text).startswith("shipdeck.toml:2: hosts.web-1.address: invalid address")


def test_host_name_ending_in_a_hyphen_label_is_refused():
    text = GOOD.replace("127.0.0.1:2222", "bad-.example:2222")
    assert "invalid address 'bad-.example'" in only_error(text)


def test_service_too_long_for_its_container_name_is_refused():
    name = "a" * 41
    text = GOOD.replace("[services.web]", f"[services.{name}]")
    assert f'container name "{name}"' in only_error(text)


def test_staging_suffix_counts_toward_the_container_name_limit():
    name = "a" * 35
    text = GOOD.replace("[services.web]", f"[services.{name}]") + (
        f'[services.{name}.environments.staging]\nlisten = "127.0.0.1:9080"\n'
        'preview_listen = "127.0.0.1:9081"\nbase_port = 19080\n'
        f"[services.{name}.environments.production]\n"
    )
    assert f'container name "{name}-staging"' in only_error(text)


def test_host_name_too_long_for_its_lb_backend_names_is_refused():
    name = "h" * 57
    text = GOOD.replace("[hosts.web-1]", f"[hosts.{name}]").replace('["web-1"]', f'["{name}"]')
    assert f"hosts.{name}: host names are at most 56 characters" in errors_of(text)[0]


def test_haproxy_without_master_socket_or_reload_command_is_refused():
    text = GOOD.replace('kind = "nginx"', 'kind = "haproxy"')
    assert only_error(text) == (
        "shipdeck.toml:5: load_balancers.edge: haproxy needs master_socket or reload_command"
    )


def test_two_hosts_publishing_on_one_address_are_refused_by_the_deploy_time_check():
    hosts = (
        '[hosts.a]\naddress = "local"\npublish_address = "127.0.0.1"\n'
        '[hosts.b]\naddress = "local"\npublish_address = "127.0.0.1"\n'
    )
    text = hosts + GOOD.split("\n\n", 1)[1].replace('["web-1"]', '["a", "b"]')
    assert "services.web: refused by the deploy-time check: duplicate backend endpoint" in (
        only_error(text)
    )


def test_webhook_url_with_a_trailing_newline_is_refused():
    assert "services.web.webhooks[0]: invalid URL" in only_error(
        with_service_key('webhooks = ["https://hooks.example.com/x\\n"]')
    )


def test_prometheus_url_with_a_trailing_newline_is_refused():
    text = GOOD + '[metrics]\nprometheus_url = "http://127.0.0.1:9090\\n"\n'
    assert "metrics.prometheus_url: invalid URL" in only_error(text)


def test_env_name_with_a_trailing_newline_is_refused():
    text = GOOD + '[services.web.env]\n"A\\n" = "x"\n'
    assert 'expected NAME = "string"' in only_error(text)


def test_env_value_with_nul_is_refused():
    text = GOOD + '[services.web.env]\nA = "x\\u0000"\n'
    assert (
        only_error(text) == "shipdeck.toml:16: services.web.env.A: value contains a NUL character"
    )


def test_schema_label_with_a_space_is_refused():
    assert "schema_label: invalid label prefix" in only_error(
        with_service_key('schema_label = "my label"')
    )


# ---------------------------------------------------------------- one line, never a traceback


def test_listen_port_of_5000_digits_is_one_error():
    text = GOOD.replace('listen = "127.0.0.1:8080"', f'listen = "127.0.0.1:{"9" * 5000}"')
    error = only_error(text)
    assert "services.web.listen: invalid listen address" in error and len(error) < 300


def test_integer_of_5000_digits_is_invalid_toml_on_its_line():
    assert only_error(GOOD + "x = " + "9" * 5000 + "\n") == (
        "shipdeck.toml:15: invalid TOML: number too long"
    )


def test_deeply_nested_arrays_are_invalid_toml():
    assert only_error(GOOD + "x = " + "[" * 3000 + "]" * 3000 + "\n") == (
        "shipdeck.toml:1: invalid TOML: nested too deeply"
    )


def test_empty_known_hosts_is_a_config_error():
    text = GOOD.replace('known_hosts = "/tmp/kh"', 'known_hosts = ""')
    assert only_error(text) == (
        "shipdeck.toml:3: hosts.web-1.known_hosts: invalid path '': expected a non-empty path"
    )


def test_config_path_that_is_a_directory_is_one_error(tmp_path):
    with pytest.raises(ConfigInvalid) as caught:
        load_config(tmp_path)
    assert caught.value.errors == [f"{tmp_path}: cannot read config: Is a directory"]


def test_dev_zero_as_config_is_refused_as_too_large():
    with pytest.raises(ConfigInvalid) as caught:
        load_config(Path("/dev/zero"))
    assert caught.value.errors == ["/dev/zero:1: config file is larger than 1024 KiB"]


def test_config_over_one_mib_is_refused(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text("#" * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(ConfigInvalid) as caught:
        load_config(path)
    assert caught.value.errors == [f"{path}:1: config file is larger than 1024 KiB"]


def test_config_from_a_fifo_is_read_not_hung_on(tmp_path):
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "w") as handle:
            handle.write(GOOD)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    config = load_config(fifo)
    writer.join(timeout=5)
    assert "web" in config.services


def test_config_that_is_not_utf8_is_one_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigInvalid) as caught:
        load_config(path)
    assert caught.value.errors[0].startswith(f"{path}:1: cannot read config: not UTF-8")


def test_fifo_nobody_writes_to_is_one_error_not_a_hang(tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "STREAM_WAIT_S", 0.2)
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)
    with pytest.raises(ConfigInvalid) as caught:
        load_config(fifo)
    assert caught.value.errors == [f"{fifo}: cannot read config: no end of data within 0.2s"]
