"""Validation of what reaches Docker: names, references, specs — no rig needed."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.docker_host import (
    ContainerSpec,
    HostSpec,
    container_name,
    split_digest_reference,
    split_tag_reference,
)
from engines.errors import InvalidTargetInput
from engines.ssh import SshTarget

DIGEST = "sha256:" + "ab" * 32
IMAGE = f"127.0.0.1:5000/shipdeck/demo@{DIGEST}"


def spec(**overrides: object) -> ContainerSpec:
    fields: dict[str, object] = {
        "service": "checkout",
        "release": "v1.2.3",
        "image": IMAGE,
        "container_port": 8000,
        "host_port": 18000,
        "color": "blue",
    }
    fields.update(overrides)
    return ContainerSpec(**fields)  # type: ignore[arg-type]


def test_a_valid_spec_passes() -> None:
    spec().validate("web-1")


def test_an_image_without_digest_is_refused_as_not_immutable() -> None:
    with pytest.raises(InvalidTargetInput, match="not pinned by a sha256 digest"):
        spec(image="127.0.0.1:5000/shipdeck/demo:v1").validate("web-1")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("service", "Checkout", "service"),
        ("service", "a;b", "service"),
        ("release", "v1 beta", "release"),
        ("color", "Blue", "color"),
        ("track", "canary!", "track"),
        ("container_port", 0, "port"),
        ("host_port", 70000, "port"),
        ("env", {"BAD-NAME": "x"}, "environment variable"),
        ("labels", {"shipdeck.release": "forged"}, "reserved"),
    ],
)
def test_unsafe_or_ambiguous_fields_are_refused_naming_the_field(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(InvalidTargetInput, match=message) as refused:
        spec(**{field: value}).validate("web-1")
    assert refused.value.target == "web-1"


def test_a_container_needs_a_color_or_a_track() -> None:
    with pytest.raises(InvalidTargetInput, match="color or a track"):
        spec(color="", track="").validate("web-1")


def test_the_slot_combines_color_and_track() -> None:
    assert spec(color="green", track="canary").slot == "green-canary"
    assert spec(color="", track="stable").slot == "stable"


def test_env_and_labels_cannot_be_changed_after_creation() -> None:
    container = spec(env={"A": "1"})
    with pytest.raises(TypeError):
        container.env["A"] = "2"  # type: ignore[index]


@given(st.text(min_size=1, max_size=40))
def test_container_names_contain_only_safe_characters(host: str) -> None:
    name = container_name(host, "checkout", "blue")
    assert re.fullmatch(r"shipdeck-[a-z0-9-]+-checkout-blue", name)


def test_hosts_sharing_a_dockerd_get_different_container_names() -> None:
    assert container_name("web-1", "demo", "blue") != container_name("web-2", "demo", "blue")
    assert container_name("Web_1.example", "demo", "blue") == "shipdeck-web-1-example-demo-blue"


def test_tag_references_split_despite_a_registry_port() -> None:
    assert split_tag_reference("h", "127.0.0.1:5000/shipdeck/demo:v2") == (
        "127.0.0.1:5000/shipdeck/demo",
        "v2",
    )
    assert split_tag_reference("h", "127.0.0.1:5000/shipdeck/demo") == (
        "127.0.0.1:5000/shipdeck/demo",
        "latest",
    )


def test_digest_references_split_into_repository_and_digest() -> None:
    assert split_digest_reference("h", IMAGE) == ("127.0.0.1:5000/shipdeck/demo", DIGEST)


@pytest.mark.parametrize("reference", ["demo@sha256:short", "demo;rm@" + DIGEST, "@" + DIGEST])
def test_malformed_digest_references_are_refused(reference: str) -> None:
    with pytest.raises(InvalidTargetInput):
        split_digest_reference("h", reference)


def test_a_host_spec_refuses_a_publish_address_that_is_not_an_ip() -> None:
    with pytest.raises(InvalidTargetInput, match="publish address"):
        HostSpec(name="web-1", publish_address="localhost")


def test_a_host_spec_refuses_an_ssh_target_of_another_name(tmp_path: object) -> None:
    ssh = SshTarget(name="web-2", address="10.0.0.2", known_hosts="/etc/ssh/known_hosts")
    with pytest.raises(InvalidTargetInput, match="SSH target is named 'web-2'"):
        HostSpec(name="web-1", ssh=ssh)


def test_a_host_spec_refuses_a_relative_docker_socket() -> None:
    with pytest.raises(InvalidTargetInput, match="must be absolute"):
        HostSpec(name="web-1", docker_socket="docker.sock")


@pytest.mark.parametrize("release", ["v1\n", "v1\r", "v1\n-rm"])
def test_a_release_with_a_trailing_line_break_is_refused(release: str) -> None:
    with pytest.raises(InvalidTargetInput):
        spec(release=release).validate("web-1")
