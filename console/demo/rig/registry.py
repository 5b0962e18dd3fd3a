"""A local image registry (Debian ``docker-registry``, distribution 2.8) on a
loopback port. dockerd trusts 127.0.0.0/8 registries over plain HTTP, so
images pushed here can be pulled by digest without any TLS setup."""

from __future__ import annotations

import contextlib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from console.demo.rig.daemons import DaemonProcess, RigUnavailable, find_binary, free_port

START_TIMEOUT_S = 20.0
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )
)


@dataclass
class RigRegistry:
    """A running registry; ``address`` is ``127.0.0.1:PORT``."""

    address: str
    process: DaemonProcess

    @classmethod
    def start(cls, workdir: Path) -> RigRegistry:
        binary = find_binary("docker-registry", "docker-registry")
        storage = workdir / "registry-storage"
        storage.mkdir(parents=True, exist_ok=True)
        last_error: RigUnavailable | None = None
        for _ in range(3):  # a free port can be taken between probing and binding
            address = f"127.0.0.1:{free_port()}"
            config = workdir / "registry.yml"
            config.write_text(
                "version: 0.1\n"
                "log:\n  level: error\n  accesslog:\n    disabled: true\n"
                "storage:\n"
                f"  filesystem:\n    rootdirectory: {storage}\n"
                "  delete:\n    enabled: true\n"
                f"http:\n  addr: {address}\n"
            )
            process = DaemonProcess.start(
                "docker-registry", [binary, "serve", str(config)], workdir / "registry.log"
            )
            registry = cls(address, process)
            try:
                process.wait_ready(registry.answers, "answering /v2/", START_TIMEOUT_S)
            except RigUnavailable as exc:
                process.stop()
                last_error = exc
                continue
            return registry
        assert last_error is not None
        raise last_error

    def answers(self) -> bool:
        url = f"http://{self.address}/v2/"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
        return False

    def manifest_digest(self, repository: str, tag: str) -> str | None:
        """The digest the registry serves for ``repository:tag`` (None if absent),
        straight from the HTTP API: what tests compare the engine's answer with."""
        request = urllib.request.Request(  # loopback http by construction
            f"http://{self.address}/v2/{repository}/manifests/{tag}",
            method="HEAD",
            headers={"Accept": MANIFEST_TYPES},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.headers.get("Docker-Content-Digest")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def stop(self) -> None:
        self.process.stop()
