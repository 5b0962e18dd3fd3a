"""Image pruning keeps the releases a rollback may need, and never an image in use."""

from __future__ import annotations

from collections.abc import Callable

import docker.errors
import pytest

from console.demo.rig.rig import Rig
from engines.docker_host import ContainerSpec, DockerHost

pytestmark = pytest.mark.rig


def present_locally(rig: Rig, reference: str) -> bool:
    try:
        rig.docker_client().api.inspect_image(reference)
    except docker.errors.ImageNotFound:
        return False
    return True


async def pull_all_releases(rig: Rig, host: DockerHost) -> None:
    for tag in ("v1", "v2", "v3"):
        await host.ensure_image(rig.digests[tag])


async def test_pruning_keeps_the_last_n_releases_and_removes_older_ones(
    rig: Rig, docker_hosts: list[DockerHost]
) -> None:
    host = docker_hosts[0]
    await pull_all_releases(rig, host)

    removed = await host.prune_images(rig.image_repository, [rig.digests["v2"], rig.digests["v3"]])

    assert rig.digests["v1"] in removed
    assert not present_locally(rig, rig.digests["v1"])
    assert present_locally(rig, rig.digests["v2"])
    assert present_locally(rig, rig.digests["v3"])


async def test_pruning_never_removes_an_image_a_container_uses(
    rig: Rig, docker_hosts: list[DockerHost], demo_spec: Callable[..., ContainerSpec]
) -> None:
    host = docker_hosts[0]
    await pull_all_releases(rig, host)
    await host.start_container(demo_spec("v1", color="blue"))

    removed = await host.prune_images(rig.image_repository, [rig.digests["v3"]])

    assert rig.digests["v1"] not in removed
    assert present_locally(rig, rig.digests["v1"])
    assert not present_locally(rig, rig.digests["v2"])


async def test_pruning_never_removes_images_newer_than_the_kept_ones(
    rig: Rig, docker_hosts: list[DockerHost]
) -> None:
    host = docker_hosts[0]
    await pull_all_releases(rig, host)

    await host.prune_images(rig.image_repository, [rig.digests["v1"]])

    assert all(present_locally(rig, rig.digests[tag]) for tag in ("v1", "v2", "v3"))
