"""The demo image the rig publishes: one image, several tags, behaviour baked in."""

from __future__ import annotations

import pytest

from console.demo.rig.rig import Rig

pytestmark = pytest.mark.rig


def image_env(rig: Rig, tag: str) -> dict[str, str]:
    config = rig.docker_client().api.inspect_image(rig.digests[tag])["Config"]
    return dict(entry.split("=", 1) for entry in config["Env"])


def test_each_tag_is_its_own_digest_in_the_registry(rig: Rig) -> None:
    digests = {tag: rig.registry.manifest_digest("shipdeck/demo", tag) for tag in rig.digests}

    assert set(digests) == {"v1", "v2", "v3", "v4"}
    assert len(set(digests.values())) == 4
    assert all(rig.digests[tag].endswith(f"@{digest}") for tag, digest in digests.items())


def test_each_release_reports_its_own_version(rig: Rig) -> None:
    assert [image_env(rig, tag)["VERSION"] for tag in ("v1", "v2", "v3")] == ["v1", "v2", "v3"]


def test_v3_is_the_bad_release_without_extra_config(rig: Rig) -> None:
    v3 = image_env(rig, "v3")

    assert (v3["ERROR_RATE"], v3["EXTRA_LATENCY_MS"]) == ("0.03", "0")
    assert (image_env(rig, "v1")["ERROR_RATE"], image_env(rig, "v1")["EXTRA_LATENCY_MS"]) == (
        "0.01",
        "0",
    )
    assert image_env(rig, "v4")["EXTRA_LATENCY_MS"] == "60"
