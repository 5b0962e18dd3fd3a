"""Docker on one deploy host, through the ``docker`` SDK over SSH.

The host's Docker socket is forwarded to a local UNIX socket on the host's one
SSH connection (see ``engines.ssh``), and the SDK talks HTTP to that socket, so
no ``docker`` command line is ever built and no user input reaches a shell.
``local`` hosts use their socket directly. The SDK blocks, so every call runs
in this host's small thread pool, never on the event loop; one hung host can
therefore not starve the others during a fan-out.

Containers carry ``shipdeck.*`` labels (service, release, color, track, host),
and names ``shipdeck-<host>-<service>-<color-or-track>``: several hosts may
share one dockerd (the test rig does) without seeing each other's containers.
This module only ever stops or removes containers labelled as this host's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import re
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import docker
import docker.errors
import requests.exceptions

from engines.errors import EngineError, EngineOperationFailed, InvalidTargetInput, TargetUnreachable
from engines.http import EndpointUnreachable, http_get
from engines.ssh import SshPool, SshTarget, validate_port, validate_remote_path

LABEL_SERVICE = "shipdeck.service"
LABEL_RELEASE = "shipdeck.release"
LABEL_COLOR = "shipdeck.color"
LABEL_TRACK = "shipdeck.track"
LABEL_HOST = "shipdeck.host"
LABEL_IMAGE = "shipdeck.image"
LABEL_CONTAINER_PORT = "shipdeck.container_port"

_HOST_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
_RELEASE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
_ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LABEL_KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")
_DIGEST_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")
_REPOSITORY_PATTERN = re.compile(
    r"^(?:[A-Za-z0-9.-]+(?::[0-9]{1,5})?/)?[a-z0-9]+(?:[._/-][a-z0-9]+)*$"
)
_TAG_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_LOG_LINES_IN_ERRORS = 12
# Pinned rather than negotiated: "auto" costs a round trip on every new connection.
# 1.40 is Docker 19.03; every call used here is older, and newer daemons accept it.
DOCKER_API_VERSION = "1.40"

ResultT = TypeVar("ResultT")


@dataclass(frozen=True, kw_only=True)
class HostSpec:
    """One Docker host: reached over ``ssh``, or this machine when ``ssh`` is None.

    ``publish_address`` is the interface container ports are bound to (e.g. a
    private or loopback address the load balancer reaches).
    """

    name: str
    ssh: SshTarget | None = None
    docker_socket: str = "/var/run/docker.sock"
    publish_address: str = "127.0.0.1"
    docker_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _HOST_NAME_PATTERN.fullmatch(self.name):
            raise InvalidTargetInput(str(self.name), "host name must match [A-Za-z0-9._-]{1,63}")
        if self.ssh is not None and self.ssh.name != self.name:
            raise InvalidTargetInput(
                self.name, f"SSH target is named {self.ssh.name!r}, expected the host's name"
            )
        validate_remote_path(self.name, self.docker_socket)
        try:
            ipaddress.ip_address(self.publish_address)
        except ValueError:
            raise InvalidTargetInput(
                self.name, f"publish address {self.publish_address!r} is not an IP address"
            ) from None
        if not self.docker_timeout_s > 0:
            raise InvalidTargetInput(self.name, "docker_timeout_s must be positive")

    @property
    def is_local(self) -> bool:
        return self.ssh is None


def _frozen_mapping(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True, kw_only=True)
class ContainerSpec:
    """What to run: one release of a service in a color (blue-green) and/or a
    track (canary). ``image`` must be pinned by digest (``repo@sha256:…``) so
    every host runs the very same artifact. ``host_port=0`` lets Docker pick."""

    service: str
    release: str
    image: str
    container_port: int
    host_port: int
    color: str = ""
    track: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "env", _frozen_mapping(self.env))
        object.__setattr__(self, "labels", _frozen_mapping(self.labels))

    @property
    def slot(self) -> str:
        """The part of the container name that tells containers of a service apart."""
        return "-".join(part for part in (self.color, self.track) if part)

    def validate(self, host: str) -> None:
        """Refuse anything that would be unsafe or ambiguous, naming the field."""
        if not _SLUG_PATTERN.fullmatch(self.service):
            raise InvalidTargetInput(host, f"service {self.service!r} must match [a-z0-9-]")
        if not _RELEASE_PATTERN.fullmatch(self.release):
            raise InvalidTargetInput(host, f"release {self.release!r} must match [A-Za-z0-9._+-]")
        for what, value in (("color", self.color), ("track", self.track)):
            if value and not _SLUG_PATTERN.fullmatch(value):
                raise InvalidTargetInput(host, f"{what} {value!r} must match [a-z0-9-]")
        if not self.slot:
            raise InvalidTargetInput(host, "a container needs a color or a track")
        split_digest_reference(host, self.image)
        validate_port(host, self.container_port)
        validate_port(host, self.host_port, allow_zero=True)
        for name, value in self.env.items():
            if not _ENV_NAME_PATTERN.fullmatch(name) or "\0" in str(value):
                raise InvalidTargetInput(host, f"environment variable {name!r} is not valid")
        for key in self.labels:
            if key.startswith("shipdeck.") or not _LABEL_KEY_PATTERN.fullmatch(key):
                raise InvalidTargetInput(host, f"label {key!r} is reserved or not valid")


@dataclass(frozen=True)
class ContainerInfo:
    """A shipdeck container as Docker reports it. ``host_port`` is None while
    nothing is published (the container is not running)."""

    id: str
    name: str
    host: str
    service: str
    release: str
    color: str
    track: str
    state: str
    health: str
    host_port: int | None
    image: str
    created: datetime
    labels: Mapping[str, str]

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class HealthCheck:
    """HTTP health probe: GET ``path`` must answer 2xx. Tried up to
    ``max_attempts`` times, ``interval_s`` apart, each bounded by
    ``attempt_timeout_s``, all within ``timeout_s``."""

    path: str = "/healthz"
    timeout_s: float = 30.0
    attempt_timeout_s: float = 2.0
    interval_s: float = 0.25
    max_attempts: int = 120


@dataclass(frozen=True)
class HealthyAfter:
    """How long a container took to pass its health check."""

    attempts: int
    elapsed_s: float


@dataclass(frozen=True)
class PullProgress:
    """One progress event of an image pull, as Docker streams them."""

    host: str
    image: str
    status: str
    layer: str | None
    current_bytes: int | None
    total_bytes: int | None


def split_digest_reference(host: str, reference: str) -> tuple[str, str]:
    """``repo@sha256:…`` → (repo, digest), or ``InvalidTargetInput``."""
    repository, separator, digest = reference.partition("@")
    if not separator or not _DIGEST_PATTERN.fullmatch(digest):
        raise InvalidTargetInput(host, f"image {reference!r} is not pinned by a sha256 digest")
    validate_repository(host, repository)
    return repository, digest


def validate_repository(host: str, repository: str) -> str:
    if not isinstance(repository, str) or not _REPOSITORY_PATTERN.fullmatch(repository):
        raise InvalidTargetInput(host, f"image repository {repository!r} is not valid")
    return repository


def split_tag_reference(host: str, reference: str) -> tuple[str, str]:
    """``registry:port/repo:tag`` → (repo, tag); the tag defaults to ``latest``."""
    last_segment = reference.rsplit("/", 1)[-1]
    if ":" in last_segment:
        repository, tag = reference.rsplit(":", 1)
    else:
        repository, tag = reference, "latest"
    validate_repository(host, repository)
    if not _TAG_PATTERN.fullmatch(tag):
        raise InvalidTargetInput(host, f"image tag {tag!r} is not valid")
    return repository, tag


def container_name(host: str, service: str, slot: str) -> str:
    """``shipdeck-<host>-<service>-<slot>``, only ``[a-z0-9-]``: the host part
    keeps hosts that share a dockerd apart."""
    host_part = re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-") or "host"
    return f"shipdeck-{host_part}-{service}-{slot}"


class DockerHost:
    """The async Docker operations a deploy needs, on one host.

    Errors are ``TargetUnreachable`` (SSH or dockerd cannot be reached, or the
    connection died mid-operation) or ``EngineOperationFailed`` (dockerd said
    no, the image is missing, the container exited or stayed unhealthy), each
    naming this host and the cause.
    """

    def __init__(
        self, spec: HostSpec, pool: SshPool | None = None, *, max_threads: int = 4
    ) -> None:
        if spec.ssh is not None and pool is None:
            raise ValueError(f"{spec.name}: an SSH host needs an SshPool")
        self.spec = spec
        self._pool = pool
        self._executor = ThreadPoolExecutor(
            max_workers=max_threads, thread_name_prefix=f"docker-{spec.name}"
        )
        self._client: docker.DockerClient | None = None
        self._client_socket: str | None = None
        self._client_lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self.spec.name

    def container_name(self, spec: ContainerSpec) -> str:
        return container_name(self.name, spec.service, spec.slot)

    async def close(self) -> None:
        """Release the SDK client and threads (the SSH pool is the caller's)."""
        client, self._client = self._client, None
        if client is not None:
            await self._in_thread_unchecked(client.close)
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def ping(self) -> str:
        """Connect if needed and make one Docker call; returns dockerd's version.
        (``/version`` costs dockerd ~10 ms; ``list_containers`` is cheaper.)"""
        version = await self._call("ping", lambda client: client.api.version())
        return str(version.get("Version", "unknown"))

    async def resolve_digest(self, image_ref: str) -> str:
        """``repo:tag`` → ``repo@sha256:…`` as the registry serves it now, so a
        deploy pins one immutable artifact. Asks the host's dockerd, which holds
        the registry settings and credentials."""
        if "@" in image_ref:
            repository, digest = split_digest_reference(self.name, image_ref)
            return f"{repository}@{digest}"
        repository, tag = split_tag_reference(self.name, image_ref)
        data = await self._call(
            f"resolving {image_ref}",
            lambda client: client.api.inspect_distribution(f"{repository}:{tag}"),
        )
        digest = str(data.get("Descriptor", {}).get("digest", ""))
        if not _DIGEST_PATTERN.fullmatch(digest):
            raise EngineOperationFailed(
                self.name, f"registry gave no sha256 digest for {image_ref} (got {digest!r})"
            )
        return f"{repository}@{digest}"

    async def ensure_image(
        self,
        image: str,
        *,
        progress: Callable[[PullProgress], None] | None = None,
        timeout_s: float = 600.0,
    ) -> bool:
        """Make ``repo@sha256:…`` present on the host, pulling it if missing.

        Returns True when it was pulled, False when it was already there.
        ``progress`` is called on the event loop with each pull event.
        """
        repository, digest = split_digest_reference(self.name, image)
        if await self._image_present(image):
            return False
        loop = asyncio.get_running_loop()

        def report(event: dict[str, Any]) -> None:
            if progress is None:
                return
            detail = event.get("progressDetail") or {}
            loop.call_soon_threadsafe(
                progress,
                PullProgress(
                    host=self.name,
                    image=image,
                    status=str(event.get("status", "")),
                    layer=event.get("id"),
                    current_bytes=detail.get("current"),
                    total_bytes=detail.get("total"),
                ),
            )

        def pull(client: docker.DockerClient) -> None:
            for event in client.api.pull(repository, tag=digest, stream=True, decode=True):
                if "error" in event:
                    raise _PullFailed(str(event.get("error")))
                report(event)

        try:
            await self._call(f"pulling {image}", pull, timeout_s=timeout_s)
        except _PullFailed as exc:
            raise EngineOperationFailed(self.name, f"pulling {image} failed: {exc}") from None
        if not await self._image_present(image):
            raise EngineOperationFailed(self.name, f"pulled {image} but dockerd does not list it")
        return True

    async def start_container(self, spec: ContainerSpec) -> ContainerInfo:
        """Create and start the container for ``spec``, its port bound to this
        host's publish address. A stopped leftover of the same name is replaced;
        a running one is refused (never touched). The image must be present."""
        spec.validate(self.name)
        name = self.container_name(spec)
        labels = {
            **spec.labels,
            LABEL_SERVICE: spec.service,
            LABEL_RELEASE: spec.release,
            LABEL_COLOR: spec.color,
            LABEL_TRACK: spec.track,
            LABEL_HOST: self.name,
            LABEL_IMAGE: spec.image,
            LABEL_CONTAINER_PORT: str(spec.container_port),
        }
        binding = (self.spec.publish_address, spec.host_port or None)

        def create_and_start(client: docker.DockerClient) -> str:
            try:
                container = client.containers.create(
                    spec.image,
                    name=name,
                    labels=labels,
                    environment=dict(spec.env),
                    ports={f"{spec.container_port}/tcp": binding},
                    restart_policy={"Name": "unless-stopped"},
                    # An init as PID 1 forwards SIGTERM (a bare app as PID 1 ignores
                    # it, so every stop would wait for the SIGKILL timeout).
                    init=True,
                )
            except docker.errors.APIError as exc:
                if exc.status_code == 409:
                    raise _NameTaken(name) from exc
                raise
            try:
                container.start()
            except docker.errors.APIError:
                with contextlib.suppress(docker.errors.APIError):
                    container.remove(force=True)
                raise
            return str(container.id)

        what = f"starting {name} from {spec.image}"
        try:
            container_id = await self._call(what, create_and_start)
        except _NameTaken:
            await self._remove_stopped_leftover(name)
            try:
                container_id = await self._call(what, create_and_start)
            except _NameTaken:
                raise EngineOperationFailed(
                    self.name, f"container name {name} was taken again while starting it"
                ) from None
        return _info_from_inspect(await self._fail_if_exited(container_id, name))

    async def _remove_stopped_leftover(self, name: str) -> None:
        """Clear the name for a new container, unless its holder is alive."""
        existing = await self._find_by_name(name)
        if existing is None:
            return
        if existing.labels.get(LABEL_HOST) != self.name:
            raise EngineOperationFailed(
                self.name, f"container name {name} is held by a container shipdeck did not start"
            )
        if existing.state in ("running", "restarting", "paused"):
            raise EngineOperationFailed(
                self.name,
                f"container {name} is already {existing.state} (release {existing.release});"
                " stop it before starting another in its place",
            )
        await self._call(
            f"removing leftover {name}",
            lambda client: client.api.remove_container(existing.id, force=True),
        )

    async def wait_healthy(
        self, container: ContainerInfo, check: HealthCheck | None = None
    ) -> HealthyAfter:
        """Poll ``GET check.path`` on publish_address:host_port until it answers
        2xx. Fails naming the container and the last status or error; fails
        early, with its last log lines, if the container exits meanwhile."""
        check = check or HealthCheck()
        if container.host_port is None:
            raise EngineOperationFailed(
                self.name, f"container {container.name} publishes no port to health-check"
            )
        if not check.path.startswith("/") or any(
            c == " " or not c.isprintable() for c in check.path
        ):
            raise InvalidTargetInput(self.name, f"health path {check.path!r} is not a URL path")
        address = self._probe_address()
        started = time.monotonic()
        deadline = started + check.timeout_s
        last_outcome = "no attempt was made"
        attempts = 0
        while attempts < check.max_attempts:
            attempts += 1
            attempt_timeout_s = max(0.05, min(check.attempt_timeout_s, deadline - time.monotonic()))
            try:
                status = await self._http_status(
                    address, container.host_port, check.path, attempt_timeout_s
                )
            except EndpointUnreachable as exc:  # the container's port, not the host: retry
                last_outcome = exc.cause
            except (TargetUnreachable, InvalidTargetInput):
                raise
            except (EngineError, OSError, TimeoutError, ValueError) as exc:
                last_outcome = _describe_probe_error(exc, attempt_timeout_s)
            else:
                if 200 <= status < 300:
                    return HealthyAfter(attempts, time.monotonic() - started)
                last_outcome = f"HTTP {status}"
            # Only a failed probe raises the question whether the container died;
            # asking Docker on every attempt would double the load of a fan-out.
            await self._fail_if_exited(container.id, container.name)
            if time.monotonic() + check.interval_s >= deadline:
                break
            await asyncio.sleep(check.interval_s)
        elapsed_s = time.monotonic() - started
        raise EngineOperationFailed(
            self.name,
            f"container {container.name} not healthy after {attempts} attempts in"
            f" {elapsed_s:.1f}s (GET http://{address}:{container.host_port}{check.path});"
            f" last: {last_outcome}",
        )

    async def stop_container(self, container: ContainerInfo | str, *, timeout_s: int = 10) -> None:
        """Stop one of this host's shipdeck containers (SIGTERM, then SIGKILL
        after ``timeout_s``). Stopping a stopped container is a no-op."""
        info = await self._owned(container)
        await self._call(
            f"stopping {info.name}",
            lambda client: client.api.stop(info.id, timeout=timeout_s),
            timeout_s=timeout_s + self.spec.docker_timeout_s,
        )

    async def remove_container(
        self, container: ContainerInfo | str, *, force: bool = False
    ) -> None:
        """Remove one of this host's shipdeck containers; a running one only with ``force``."""
        info = await self._owned(container)
        await self._call(
            f"removing {info.name}",
            lambda client: client.api.remove_container(info.id, force=force),
        )

    async def list_containers(self, service: str | None = None) -> list[ContainerInfo]:
        """This host's shipdeck containers (running or not), sorted by name."""
        filters = [f"{LABEL_HOST}={self.name}"]
        if service is not None:
            if not _SLUG_PATTERN.fullmatch(service):
                raise InvalidTargetInput(self.name, f"service {service!r} must match [a-z0-9-]")
            filters.append(f"{LABEL_SERVICE}={service}")
        summaries = await self._call(
            "listing containers",
            lambda client: client.api.containers(all=True, filters={"label": filters}),
        )
        infos = [_info_from_summary(summary) for summary in summaries]
        return sorted(infos, key=lambda info: info.name)

    async def logs(self, container: ContainerInfo | str, *, tail_lines: int = 100) -> str:
        """The last ``tail_lines`` lines of stdout+stderr of one of this host's containers."""
        info = await self._owned(container)
        return await self._logs_of(info.id, tail_lines)

    async def image_labels(self, image: str) -> dict[str, str]:
        """Labels of a present image (``repo@sha256:…``): where a release declares
        things about itself, e.g. the schema versions the migration gate checks."""
        split_digest_reference(self.name, image)

        def labels(client: docker.DockerClient) -> dict[str, str]:
            config = client.api.inspect_image(image).get("Config") or {}
            return {str(k): str(v) for k, v in (config.get("Labels") or {}).items()}

        return await self._call(f"inspecting {image}", labels)

    async def image_digests(self, repository: str) -> list[str]:
        """Digests of this repository's images present on the host (retained releases)."""
        validate_repository(self.name, repository)

        def digests(client: docker.DockerClient) -> list[str]:
            found: set[str] = set()
            for summary in client.api.images(name=repository):
                for reference in summary.get("RepoDigests") or []:
                    repo, _, digest = reference.partition("@")
                    if repo == repository and digest:
                        found.add(digest)
            return sorted(found)

        return await self._call(f"listing images of {repository}", digests)

    async def prune_images(self, repository: str, keep_digests: Collection[str]) -> list[str]:
        """Remove this repository's images that are older than the newest kept
        one, not in ``keep_digests`` and not used by any container (running or
        not, any host). Returns the references removed. Nothing is removed when
        no kept image is present: without it, "older" has no reference point."""
        validate_repository(self.name, repository)
        keep = {digest.rpartition("@")[2] for digest in keep_digests}
        for digest in keep:
            if not _DIGEST_PATTERN.fullmatch(digest):
                raise InvalidTargetInput(self.name, f"digest {digest!r} is not a sha256 digest")

        def prune(client: docker.DockerClient) -> list[str]:
            # Inspect, not list: the list API rounds creation times to seconds.
            images = [client.api.inspect_image(i["Id"]) for i in client.api.images(name=repository)]
            used_ids = {summary["ImageID"] for summary in client.api.containers(all=True)}
            kept_created = [
                _created_ns(image) for image in images if _digests_of(image, repository) & keep
            ]
            if not kept_created:
                return []
            newest_kept = max(kept_created)
            removed: list[str] = []
            for image in images:
                digests = _digests_of(image, repository)
                too_new = _created_ns(image) >= newest_kept
                if digests & keep or image["Id"] in used_ids or too_new:
                    continue
                references = [f"{repository}@{digest}" for digest in sorted(digests)]
                references += [
                    tag for tag in image.get("RepoTags") or [] if tag.startswith(f"{repository}:")
                ]
                for reference in references:
                    client.api.remove_image(reference)
                    removed.append(reference)
            return removed

        return await self._call(f"pruning images of {repository}", prune)

    async def _image_present(self, image: str) -> bool:
        def present(client: docker.DockerClient) -> bool:
            try:
                client.api.inspect_image(image)
            except docker.errors.ImageNotFound:
                return False
            return True

        return await self._call(f"looking up {image}", present)

    async def _find_by_name(self, name: str) -> ContainerInfo | None:
        summaries = await self._call(
            f"looking up {name}",
            lambda client: client.api.containers(all=True, filters={"name": f"^/{name}$"}),
        )
        return _info_from_summary(summaries[0]) if summaries else None

    async def _find_by_id(self, container_id: str) -> ContainerInfo | None:
        summaries = await self._call(
            f"looking up {container_id[:12]}",
            lambda client: client.api.containers(all=True, filters={"id": container_id}),
        )
        return _info_from_summary(summaries[0]) if summaries else None

    async def _owned(self, container: ContainerInfo | str) -> ContainerInfo:
        """The container, if it is a shipdeck container of this host; refuse any other."""
        reference = container.id if isinstance(container, ContainerInfo) else container
        if not isinstance(reference, str) or not re.fullmatch(
            r"[A-Za-z0-9][A-Za-z0-9_.-]*", reference
        ):
            raise InvalidTargetInput(self.name, f"container reference {reference!r} is not valid")
        info = await self._find_by_id(reference) if _looks_like_id(reference) else None
        if info is None:
            info = await self._find_by_name(reference)
        if info is None:
            raise EngineOperationFailed(self.name, f"container {reference} does not exist")
        if info.labels.get(LABEL_HOST) != self.name:
            raise EngineOperationFailed(
                self.name, f"container {info.name} is not a shipdeck container of this host"
            )
        return info

    async def _fail_if_exited(self, container_id: str, name: str) -> dict[str, Any]:
        """A container that exited or is crash-looping will never become healthy:
        stop it (so the restart policy does not keep it looping) and report its
        exit code with the last log lines. Returns Docker's inspect otherwise."""
        details: dict[str, Any] = await self._call(
            f"inspecting {name}", lambda client: client.api.inspect_container(container_id)
        )
        state = details.get("State", {})
        restarts = int(details.get("RestartCount", 0) or 0)
        crashed = state.get("Status") in ("exited", "dead") or state.get("Restarting")
        if not crashed and restarts == 0:
            return details
        with contextlib.suppress(EngineError):
            await self._call(
                f"stopping crashed {name}",
                lambda client: client.api.stop(container_id, timeout=1),
            )
        log_tail = await self._logs_of(container_id, _LOG_LINES_IN_ERRORS)
        lines = " | ".join(line for line in log_tail.splitlines() if line.strip()) or "(no output)"
        raise EngineOperationFailed(
            self.name,
            f"container {name} exited at start with code {state.get('ExitCode')}"
            f" (restarts: {restarts}); last log lines: {lines}",
        )

    async def _logs_of(self, container_id: str, tail_lines: int) -> str:
        raw = await self._call(
            f"fetching logs of {container_id[:12]}",
            lambda client: client.api.logs(container_id, tail=max(1, int(tail_lines))),
        )
        text: str = raw.decode("utf-8", errors="replace")
        return text

    def _probe_address(self) -> str:
        """Where health probes connect: the publish address, or loopback when
        ports are published on all interfaces."""
        address = ipaddress.ip_address(self.spec.publish_address)
        if address.is_unspecified:
            return "::1" if address.version == 6 else "127.0.0.1"
        return str(address)

    async def _http_status(self, address: str, port: int, path: str, timeout_s: float) -> int:
        """Status code of one GET, through the SSH connection for remote hosts
        (the port may be bound to the host's loopback)."""
        response = await http_get(
            address,
            port,
            path,
            timeout_s=timeout_s,
            pool=self._pool if self.spec.ssh is not None else None,
            ssh=self.spec.ssh,
            target_name=self.name,
            read_body=False,
        )
        return response.status

    async def _docker_client(self) -> docker.DockerClient:
        """The SDK client for this host; re-made when the socket path changes."""
        if self.spec.ssh is not None:
            assert self._pool is not None
            try:
                socket_path = await self._pool.forward_unix_socket(
                    self.spec.ssh, self.spec.docker_socket
                )
            except TargetUnreachable as exc:
                raise TargetUnreachable(self.name, f"cannot reach dockerd: {exc.cause}") from None
        else:
            socket_path = self.spec.docker_socket
            if not Path(socket_path).exists():
                raise TargetUnreachable(
                    self.name,
                    f"cannot reach dockerd: docker socket {socket_path} does not exist",
                )
        async with self._client_lock:
            if self._client is not None and self._client_socket == socket_path:
                return self._client
            make = functools.partial(
                docker.DockerClient,
                base_url=f"unix://{socket_path}",
                version=DOCKER_API_VERSION,
                timeout=int(self.spec.docker_timeout_s),
                max_pool_size=8,
            )
            try:
                client = await asyncio.wait_for(
                    self._in_thread_unchecked(make), self.spec.docker_timeout_s
                )
            except (docker.errors.DockerException, OSError, TimeoutError) as exc:
                raise self._unreachable("connecting to dockerd", exc) from None
            old, self._client, self._client_socket = self._client, client, socket_path
        if old is not None:
            with contextlib.suppress(Exception):
                await self._in_thread_unchecked(old.close)
        return client

    async def _call(
        self,
        what: str,
        operation: Callable[[docker.DockerClient], ResultT],
        *,
        timeout_s: float | None = None,
    ) -> ResultT:
        """Run one blocking SDK operation in a thread, mapping its failures to
        engine errors that name this host, the operation and the cause."""
        client = await self._docker_client()
        limit_s = timeout_s if timeout_s is not None else self.spec.docker_timeout_s
        try:
            return await asyncio.wait_for(
                self._in_thread_unchecked(operation, client), timeout=limit_s
            )
        except _PassedThrough:
            raise
        except TimeoutError:
            raise self._unreachable(what, TimeoutError(f"no answer within {limit_s:g}s")) from None
        except docker.errors.NotFound as exc:
            raise EngineOperationFailed(self.name, f"{what}: {_explain(exc)}") from None
        except docker.errors.APIError as exc:
            raise EngineOperationFailed(
                self.name, f"{what} refused by dockerd: {_explain(exc)}"
            ) from None
        except (
            requests.exceptions.RequestException,
            docker.errors.DockerException,
            OSError,
        ) as exc:
            raise self._unreachable(what, exc) from None

    async def _in_thread_unchecked(self, function: Callable[..., ResultT], *args: Any) -> ResultT:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args))

    def _unreachable(self, what: str, exc: BaseException) -> TargetUnreachable:
        detail = _root_cause(exc)
        ssh = self.spec.ssh
        if ssh is not None and self._pool is not None and not self._pool.is_connected(ssh):
            return TargetUnreachable(
                self.name, f"SSH connection to {ssh.endpoint} lost during {what}: {detail}"
            )
        return TargetUnreachable(self.name, f"dockerd did not answer during {what}: {detail}")


class _PassedThrough(Exception):
    """Raised inside an SDK operation for the caller to handle, not mapped by ``_call``."""


class _PullFailed(_PassedThrough):
    """An error event inside Docker's pull stream (e.g. manifest unknown)."""


class _NameTaken(_PassedThrough):
    """Docker refused to create a container because its name is in use."""


def _looks_like_id(reference: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-f]{12,64}", reference))


def _digests_of(image: Mapping[str, Any], repository: str) -> set[str]:
    return {
        reference.partition("@")[2]
        for reference in image.get("RepoDigests") or []
        if reference.partition("@")[0] == repository
    }


def _created_ns(image: Mapping[str, Any]) -> int:
    """Nanoseconds since the epoch from Docker's RFC 3339 ``Created`` (nanosecond digits)."""
    created = str(image.get("Created", ""))
    match = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?", created)
    if match is None:
        return 0
    seconds = datetime.fromisoformat(match.group(1) + "+00:00").timestamp()
    fraction = (match.group(2) or "0")[:9].ljust(9, "0")
    return int(seconds) * 1_000_000_000 + int(fraction)


def _info_from_summary(summary: Mapping[str, Any]) -> ContainerInfo:
    labels = dict(summary.get("Labels") or {})
    names = summary.get("Names") or ["/?"]
    container_port = int(labels.get(LABEL_CONTAINER_PORT, "0") or 0)
    host_port = next(
        (
            int(port["PublicPort"])
            for port in summary.get("Ports") or []
            if port.get("PrivatePort") == container_port and port.get("PublicPort")
        ),
        None,
    )
    return ContainerInfo(
        id=str(summary["Id"]),
        name=names[0].lstrip("/"),
        host=labels.get(LABEL_HOST, ""),
        service=labels.get(LABEL_SERVICE, ""),
        release=labels.get(LABEL_RELEASE, ""),
        color=labels.get(LABEL_COLOR, ""),
        track=labels.get(LABEL_TRACK, ""),
        state=str(summary.get("State", "unknown")),
        health=_health_from_status(str(summary.get("Status", ""))),
        host_port=host_port,
        image=labels.get(LABEL_IMAGE) or str(summary.get("Image", "")),
        created=datetime.fromtimestamp(int(summary.get("Created", 0)), tz=UTC),
        labels=MappingProxyType(labels),
    )


def _info_from_inspect(details: Mapping[str, Any]) -> ContainerInfo:
    """The same facts as ``_info_from_summary``, from the inspect API's layout."""
    config = details.get("Config") or {}
    labels = dict(config.get("Labels") or {})
    state = details.get("State") or {}
    container_port = labels.get(LABEL_CONTAINER_PORT, "0")
    bindings = ((details.get("NetworkSettings") or {}).get("Ports") or {}).get(
        f"{container_port}/tcp"
    ) or []
    host_port = next((int(b["HostPort"]) for b in bindings if b.get("HostPort")), None)
    return ContainerInfo(
        id=str(details["Id"]),
        name=str(details.get("Name", "")).lstrip("/"),
        host=labels.get(LABEL_HOST, ""),
        service=labels.get(LABEL_SERVICE, ""),
        release=labels.get(LABEL_RELEASE, ""),
        color=labels.get(LABEL_COLOR, ""),
        track=labels.get(LABEL_TRACK, ""),
        state=str(state.get("Status", "unknown")),
        health=str((state.get("Health") or {}).get("Status", "none")),
        host_port=host_port,
        image=labels.get(LABEL_IMAGE) or str(config.get("Image", "")),
        created=datetime.fromtimestamp(_created_ns(details) / 1_000_000_000, tz=UTC),
        labels=MappingProxyType(labels),
    )


def _health_from_status(status: str) -> str:
    """Docker's own HEALTHCHECK verdict, from the list API's status text."""
    if "(healthy)" in status:
        return "healthy"
    if "(unhealthy)" in status:
        return "unhealthy"
    if "(health: starting)" in status:
        return "starting"
    return "none"


def _explain(exc: docker.errors.APIError) -> str:
    explanation = exc.explanation
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", errors="replace")
    return str(explanation or exc).strip()


def _root_cause(exc: BaseException) -> str:
    """The innermost meaningful message of a requests/urllib3 error chain."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        args = getattr(current, "args", ())
        nested = next((arg for arg in args if isinstance(arg, BaseException)), None)
        current = nested or current.__cause__ or current.__context__
    innermost = seen[-1]
    return str(innermost) or type(innermost).__name__


def _describe_probe_error(exc: BaseException, attempt_timeout_s: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {attempt_timeout_s:.2g}s"
    if isinstance(exc, EngineError):
        return exc.cause
    return str(exc) or type(exc).__name__
