"""Releases: resolve what the user named to an immutable digest, and read what is live."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from console.core.config import EnvironmentTarget, ServiceConfig
from console.core.config.validate import IMAGE_REF_RE
from console.core.errors import InvalidInput
from console.core.fleet import Fleet, as_shipdeck_error
from console.core.ops.gate import LiveSchema, SchemaDeclaration, live_schema
from console.core.store import Release, StateStore, TrafficRecord

_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class ImageChoice:
    reference: str  # what to resolve: repo:tag or repo@digest
    tag: str | None


def parse_image_argument(service: ServiceConfig, image: str) -> ImageChoice:
    """Accept ``v2``, ``repo:v2``, ``repo@sha256:…`` (repo must be the service's)."""
    image = image.strip()
    if _TAG_RE.fullmatch(image) and "/" not in image and ":" not in image:
        return ImageChoice(f"{service.image}:{image}", image)
    match = IMAGE_REF_RE.fullmatch(image)
    if not match:
        raise InvalidInput(
            f"invalid image {image!r}: expected TAG, REPOSITORY:TAG or REPOSITORY@sha256:DIGEST"
        )
    repo = match.group("repo")
    if repo != service.image:
        raise InvalidInput(
            f"image repository {repo!r} is not {service.name}'s repository {service.image!r}"
        )
    if match.group("digest"):
        return ImageChoice(f"{repo}@{match.group('digest')}", match.group("tag"))
    return ImageChoice(f"{repo}:{match.group('tag') or 'latest'}", match.group("tag") or "latest")


async def resolve(fleet: Fleet, env: EnvironmentTarget, choice: ImageChoice) -> str:
    """Resolve to ``repo@sha256:…`` through the first host's dockerd (registry access lives there)."""
    host = fleet.host(env.hosts[0])
    try:
        return await host.resolve_digest(choice.reference)
    except Exception as error:  # mapped to one typed error
        raise as_shipdeck_error(error) from None


def release_name_for(
    store: StateStore, service: str, environment: str, tag: str | None, image_ref: str
) -> str | None:
    """A tag names a release once: if the tag moved to another digest, the new one gets ``tag+digest``."""
    if not tag:
        return None
    for existing in store.releases(service, environment, limit=500):
        if existing.tag == tag and existing.image_ref != image_ref:
            return f"{tag}+{image_ref.rpartition(':')[2][:8]}"
    return tag


def record(
    store: StateStore,
    service: str,
    environment: str,
    tag: str | None,
    image_ref: str,
    now: datetime,
    labels: dict[str, str],
) -> Release:
    return store.record_release(
        service,
        environment,
        image_ref,
        release_name_for(store, service, environment, tag, image_ref),
        now,
        labels,
    )


def schema_of(release: Release | None, service: ServiceConfig) -> SchemaDeclaration | None:
    if release is None:
        return None
    return SchemaDeclaration.from_labels(release.labels, service.schema_label)


def current_schema(
    store: StateStore, service: ServiceConfig, environment: str
) -> LiveSchema | None:
    history = [
        (r.name, schema_of(r, service))
        for r in store.releases(service.name, environment, limit=500)
        if r.first_deployed_at is not None
    ]
    return live_schema(history)


def live_release(store: StateStore, traffic: TrafficRecord | None) -> Release | None:
    if traffic is None or traffic.live_color is None:
        return None
    release_id = traffic.release_of(traffic.live_color)
    return store.release(release_id) if release_id is not None else None
