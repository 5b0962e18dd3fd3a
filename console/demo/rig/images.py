"""The demo app image, built offline and pushed to the rig's registry.

No image can be pulled from Docker Hub here, so the base image is made from
this machine's Debian ``python3.11``: the interpreter, the shared libraries
``ldd`` lists for it and its extension modules, and the standard library (no
tests), packed as a reproducible tarball and ``docker import``-ed (~75 MB).
The tarball is cached between runs in the cache directory the caller gives
(default ``$SHIPDECK_RIG_CACHE``, else the user's cache directory) and the image
is not rebuilt when dockerd already has it. The app (``console/demo/app``,
shipped inside the package) is then built FROM it (<1 s) once per release tag;
every tag gets its own digest. Nothing is ever written next to this module: an
installed package directory may be read-only and is shared by every user.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
from filelock import FileLock

from console.demo.rig.daemons import RigUnavailable

# The demo app's build context: package data, found next to this package in a
# source checkout and in an installed wheel alike.
DEMO_APP_DIR = Path(__file__).resolve().parent.parent / "app"
BASE_IMAGE = "shipdeck/pybase:3.11"
DEMO_REPOSITORY = "shipdeck/demo"
SYSTEM_PYTHON = Path("/usr/bin/python3.11")
STDLIB_DIR = Path("/usr/lib/python3.11")
STDLIB_SKIPPED = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3"}
STDLIB_SKIPPED_PATTERN = re.compile(r"^(_test|_xxtest|xxlimited|_ctypes_test)|^config-3\.11")
BASE_CHANGES = [
    "ENV PATH=/usr/local/bin:/usr/bin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
]


@dataclass(frozen=True)
class DemoRelease:
    """One tag of the demo image and the behaviour baked into it."""

    tag: str
    version: str
    error_rate: float = 0.0
    extra_latency_ms: int = 0


DEMO_RELEASES = (
    # Healthy releases still fail 1% of requests, as real services do: a judge that
    # compares error ratios needs some errors to tell "same as baseline" from "no data".
    DemoRelease("v1", "v1", error_rate=0.01),
    DemoRelease("v2", "v2", error_rate=0.01),
    # The demo's bad release: 3x the error rate, with no extra config.
    DemoRelease("v3", "v3", error_rate=0.03),
    # A latency regression: same errors as v1/v2, 60 ms slower.
    DemoRelease("v4", "v4", error_rate=0.01, extra_latency_ms=60),
)


def default_cache_dir() -> Path:
    """``$SHIPDECK_RIG_CACHE``, else ``$XDG_CACHE_HOME/shipdeck/rig`` (``~/.cache/…``):
    the base tarball is rebuilt only when the interpreter changes, so it is worth
    keeping across demo runs and test sessions, and never inside the package."""
    explicit = os.environ.get("SHIPDECK_RIG_CACHE")
    if explicit:
        return Path(explicit)
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home) / "shipdeck" / "rig"


def ensure_base_image(client: docker.DockerClient, cache_dir: Path) -> str:
    """``shipdeck/pybase:3.11`` in this dockerd: kept if present, else imported
    from the cached rootfs tarball, which is built first if missing."""
    try:
        client.images.get(BASE_IMAGE)
        return BASE_IMAGE
    except docker.errors.ImageNotFound:
        pass
    tarball = ensure_base_rootfs(cache_dir)
    repository, tag = BASE_IMAGE.split(":")
    client.api.import_image_from_file(
        str(tarball), repository=repository, tag=tag, changes=BASE_CHANGES
    )
    return BASE_IMAGE


def ensure_base_rootfs(cache_dir: Path) -> Path:
    """The cached rootfs tarball, built (once, under a file lock) when missing.
    Its name carries a hash of the interpreter, so a Python upgrade rebuilds it."""
    if not SYSTEM_PYTHON.is_file() or not STDLIB_DIR.is_dir():
        raise RigUnavailable(
            "python3.11 base image",
            f"{SYSTEM_PYTHON} (Debian's python) is missing; run "
            "`apt-get install python3.11-minimal libpython3.11-stdlib`",
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    fingerprint = hashlib.sha256(SYSTEM_PYTHON.read_bytes()).hexdigest()[:12]
    tarball = cache_dir / f"pybase-3.11-{fingerprint}.tar"
    with FileLock(str(cache_dir / "pybase.lock"), timeout=300):
        if not tarball.exists():
            partial = tarball.with_suffix(".partial")
            write_rootfs_tarball(partial)
            partial.replace(tarball)
    return tarball


def write_rootfs_tarball(destination: Path) -> None:
    """A minimal root filesystem for the interpreter, deterministic (sorted,
    mtime 0, root-owned) so a rebuild yields the same layer."""
    files = sorted(set(_rootfs_files()))
    with tarfile.open(destination, "w", format=tarfile.PAX_FORMAT) as archive:
        for directory in ("tmp", "etc", "app", "usr/bin", "usr/local/bin"):
            _add_directory(archive, directory, 0o1777 if directory == "tmp" else 0o755)
        added_dirs = {"tmp", "etc", "app", "usr", "usr/bin", "usr/local", "usr/local/bin"}
        for path in files:
            for parent in reversed(Path(path).relative_to("/").parents[:-1]):
                if str(parent) not in added_dirs:
                    _add_directory(archive, str(parent), 0o755)
                    added_dirs.add(str(parent))
            _add_file(archive, path)
        _add_symlink(archive, "usr/bin/python3", "python3.11")
        _add_symlink(archive, "usr/bin/python", "python3.11")
        _add_bytes(
            archive,
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/false\n"
            b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        )
        _add_bytes(archive, "etc/group", b"root:x:0:\nnogroup:x:65534:\n")


def _rootfs_files() -> Iterator[str]:
    yield str(SYSTEM_PYTHON)
    extension_modules: list[str] = []
    for root, dirs, names in os.walk(STDLIB_DIR):
        relative = Path(root).relative_to(STDLIB_DIR)
        if relative == Path("."):
            dirs[:] = [
                d for d in dirs if d not in STDLIB_SKIPPED and not STDLIB_SKIPPED_PATTERN.match(d)
            ]
        dirs[:] = [d for d in dirs if d not in ("tests", "test")]
        for name in names:
            path = os.path.join(root, name)
            # Debian's sitecustomize points into /etc for distro hooks the app does not need.
            if STDLIB_SKIPPED_PATTERN.match(name) or name == "sitecustomize.py":
                continue
            if not os.path.exists(path):
                continue
            if name.endswith(".so"):
                extension_modules.append(path)
            yield path
    yield from _shared_libraries([str(SYSTEM_PYTHON), *extension_modules])


def _shared_libraries(binaries: list[str]) -> Iterator[str]:
    """Every library ``ldd`` resolves for these binaries, at the path it names."""
    ldd = subprocess.run(  # argv list of our own files
        ["ldd", *binaries], check=False, capture_output=True, text=True
    )
    for line in ldd.stdout.splitlines():
        match = re.search(r"=>\s+(/\S+)\s+\(", line) or re.match(r"\s*(/\S+)\s+\(", line)
        if match:
            yield match.group(1)


def _add_directory(archive: tarfile.TarFile, name: str, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    archive.addfile(info)


def _add_file(archive: tarfile.TarFile, path: str) -> None:
    """Add the file's content at its own path (symlinks resolved: the image
    needs the bytes at the name the loader asks for)."""
    real = os.path.realpath(path)
    info = tarfile.TarInfo(path.lstrip("/"))
    info.size = os.path.getsize(real)
    info.mode = os.stat(real).st_mode & 0o755
    with open(real, "rb") as content:
        archive.addfile(info, content)


def _add_symlink(archive: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    archive.addfile(info)


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(data))


def build_demo_image(client: docker.DockerClient, release: DemoRelease, base: str) -> str:
    """Build the demo app for one release; returns the local image id."""
    try:
        image, _ = client.images.build(
            path=str(DEMO_APP_DIR),
            tag=f"{DEMO_REPOSITORY}:{release.tag}",
            buildargs={
                "BASE": base,
                "VERSION": release.version,
                "ERROR_RATE": str(release.error_rate),
                "EXTRA_LATENCY_MS": str(release.extra_latency_ms),
            },
            pull=False,
            rm=True,
            forcerm=True,
        )
    except docker.errors.BuildError as exc:
        log = " | ".join(str(chunk.get("stream", chunk)).strip() for chunk in exc.build_log)
        raise RigUnavailable(
            "demo image", f"build of {release.tag} failed: {exc.msg}: {log[-500:]}"
        ) from None
    return str(image.id)


def push_demo_image(client: docker.DockerClient, registry: str, release: DemoRelease) -> str:
    """Tag and push one release to the registry; returns ``registry/repo@sha256:…``."""
    repository = f"{registry}/{DEMO_REPOSITORY}"
    client.images.get(f"{DEMO_REPOSITORY}:{release.tag}").tag(repository, release.tag)
    digest = None
    for event in client.api.push(repository, tag=release.tag, stream=True, decode=True):
        if "error" in event:
            raise RigUnavailable("demo image", f"push of {release.tag} failed: {event['error']}")
        digest = (event.get("aux") or {}).get("Digest", digest)
    if digest is None:
        raise RigUnavailable("demo image", f"push of {release.tag} reported no digest")
    return f"{repository}@{digest}"


def publish_demo_images(
    client: docker.DockerClient,
    registry: str,
    cache_dir: Path,
    releases: tuple[DemoRelease, ...] = DEMO_RELEASES,
) -> dict[str, str]:
    """Build every release and push it; returns tag → digest reference."""
    base = ensure_base_image(client, cache_dir)
    digests: dict[str, str] = {}
    for release in releases:
        build_demo_image(client, release, base)
        digests[release.tag] = push_demo_image(client, registry, release)
    return digests
