"""Config validation: every error class is one line with file:line, exit 2, never a traceback."""

from __future__ import annotations

import textwrap

import pytest

from console.core.config import parse_config
from console.core.errors import ConfigInvalid

GOOD = textwrap.dedent(
    """\
    [hosts.web-1]
    address = "ssh://root@127.0.0.1:2222"
    known_hosts = "/tmp/kh"

    [load_balancers.edge]
    kind = "nginx"

    [services.web]
    image = "127.0.0.1:5000/demo"
    hosts = ["web-1"]
    load_balancer = "edge"
    listen = "127.0.0.1:8080"
    preview_listen = "127.0.0.1:8081"
    base_port = 18080
    """
)


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigInvalid) as caught:
        parse_config(text, "shipdeck.toml")
    return caught.value.errors


def test_a_valid_config_loads_into_the_typed_model():
    config = parse_config(GOOD)
    env = config.services["web"].environments["production"]
    assert env.hosts == ("web-1",) and env.listen_port == 8080 and env.base_port == 18080
    assert config.hosts["web-1"].ssh is not None and config.hosts["web-1"].ssh.port == 2222


def test_unknown_key_is_reported_with_its_line():
    assert errors_of(GOOD.replace('kind = "nginx"', 'kind = "nginx"\ncolour = "red"')) == [
        "shipdeck.toml:7: load_balancers.edge.colour: unknown key"
    ]


def test_wrong_type_is_reported_with_its_line():
    assert errors_of(GOOD.replace("base_port = 18080", 'base_port = "18080"')) == [
        "shipdeck.toml:14: services.web.base_port: expected integer, got string"
    ]


def test_dangling_host_reference_names_the_missing_host():
    assert errors_of(GOOD.replace('hosts = ["web-1"]', 'hosts = ["web-1", "web-9"]')) == [
        'shipdeck.toml:10: services.web.hosts: unknown host "web-9"'
    ]


def test_dangling_load_balancer_reference_is_refused():
    assert errors_of(GOOD.replace('load_balancer = "edge"', 'load_balancer = "lb9"')) == [
        'shipdeck.toml:11: services.web.load_balancer: unknown load balancer "lb9"'
    ]


def test_invalid_name_is_refused():
    errors = errors_of(GOOD.replace("[services.web]", "[services.Web_1]"))
    assert errors == [
        "shipdeck.toml:8: services.Web_1: invalid name 'Web_1': use [a-z0-9][a-z0-9-]{0,62}"
    ]


def test_invalid_image_reference_is_refused():
    assert errors_of(GOOD.replace('"127.0.0.1:5000/demo"', '"Demo App"')) == [
        "shipdeck.toml:9: services.web.image: invalid image repository 'Demo App': expected e.g. registry:5000/team/app"
    ]


def test_duplicate_ports_are_refused():
    errors = errors_of(
        GOOD.replace('preview_listen = "127.0.0.1:8081"', 'preview_listen = "127.0.0.1:8080"')
    )
    assert errors == [
        "shipdeck.toml:13: services.web.preview_listen: duplicate port 8080: already used by services.web.listen"
    ]


def test_two_services_sharing_host_ports_are_refused():
    second = GOOD.split("[services.web]")[1].replace(":8080", ":9080").replace(":8081", ":9081")
    errors = errors_of(GOOD + "\n[services.api]" + second)
    assert any("services.api.base_port: duplicate port 18080" in e for e in errors)


def test_all_errors_are_collected_not_just_the_first():
    text = GOOD.replace('kind = "nginx"', 'kind = "apache"').replace(
        "base_port = 18080", "base_port = -1"
    )
    assert len(errors_of(text)) == 2


def test_toml_syntax_error_reports_its_line():
    errors = errors_of(GOOD + "\n[broken\n")
    assert errors[0].startswith("shipdeck.toml:16: invalid TOML:")


def test_ssh_address_must_be_an_ssh_url_or_local():
    errors = errors_of(GOOD.replace("ssh://root@127.0.0.1:2222", "root@127.0.0.1"))
    assert errors == [
        'shipdeck.toml:2: hosts.web-1.address: invalid address \'root@127.0.0.1\': expected "ssh://user@host:port" or "local"'
    ]


def test_commands_must_be_argv_arrays_never_shell_strings():
    errors = errors_of(
        GOOD.replace('kind = "nginx"', 'kind = "nginx"\nreload_command = "nginx -s reload"')
    )
    assert errors == [
        "shipdeck.toml:7: load_balancers.edge.reload_command: expected a non-empty array of strings (argv, never a shell string)"
    ]


def test_canary_steps_must_end_at_full_weight():
    text = (
        GOOD
        + '[[services.web.canary_steps]]\nweight = 5\n[[services.web.canary_steps]]\npause = "1m"\n'
    )
    assert errors_of(text) == [
        "shipdeck.toml:15: services.web.canary_steps: the last weight step must be 100"
    ]


def test_canary_step_errors_point_at_the_step():
    text = (
        GOOD
        + '[[services.web.canary_steps]]\nweight = 5\n[[services.web.canary_steps]]\npause = "soon"\n[[services.web.canary_steps]]\nweight = 100\n'
    )
    assert errors_of(text) == [
        'shipdeck.toml:18: services.web.canary_steps[1].pause: invalid duration \'soon\': expected e.g. "30s", "10m", "1h" or "manual"'
    ]


def test_unknown_environment_is_refused():
    text = GOOD + "[services.web.environments.qa]\nprotected = true\n"
    assert errors_of(text) == [
        'shipdeck.toml:15: services.web.environments.qa: unknown environment "qa": expected one of staging, production'
    ]
