"""The same writers drive an LB on another host through one SSH connection:
files over SFTP, commands as argv (no shell), probes and HAProxy's sockets
tunnelled. The "remote" host is a real sshd on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncssh
import pytest

from console.demo.rig.daemons import RigUnavailable
from console.demo.rig.edge import NginxEdge
from console.demo.rig.haproxy_edge import HaproxyEdge
from console.demo.rig.sshd import SshdHost, generate_key_pair
from engines.lb import SshTransport, make_writer
from tests.integration.lb.conftest import Pair, Ports, blue_green, haproxy_settings, nginx_settings
from tests.require import missing, need_binary

pytestmark = pytest.mark.rig


@pytest.fixture
async def ssh_transport(tmp_path: Path) -> AsyncIterator[SshTransport]:
    need_binary("sshd")
    client_key = tmp_path / "client" / "id_ed25519"
    host = SshdHost.create("lb-host", tmp_path / "sshd", generate_key_pair(client_key))
    try:
        host.start(may_change_port=True)
    except RigUnavailable as exc:
        missing(exc.component, exc.why)
    known_hosts = tmp_path / "client" / "known_hosts"
    known_hosts.write_text(host.known_hosts_line + "\n")
    connection = await asyncssh.connect(
        host.address,
        host.port,
        username="root",
        client_keys=[str(client_key)],
        known_hosts=str(known_hosts),
    )
    try:
        yield SshTransport(connection, name="lb-host")
    finally:
        connection.close()
        await connection.wait_closed()
        host.stop()


async def test_nginx_is_installed_swapped_and_probed_over_ssh(
    ssh_transport: SshTransport, nginx_edge: NginxEdge, upstreams: Pair, ports: Ports
) -> None:
    writer = make_writer(nginx_settings(nginx_edge), ssh_transport)

    await writer.apply(blue_green(upstreams, ports, blue_pct=100))
    swapped = await writer.apply(blue_green(upstreams, ports, blue_pct=0))

    assert (swapped.method, swapped.verified_release) == ("reload", "v2")
    assert await writer.probe("web") == "v2"
    assert (nginx_edge.config_dir / "shipdeck-web.conf.bak").exists()


async def test_haproxy_runtime_api_works_through_the_ssh_socket_tunnel(
    ssh_transport: SshTransport, haproxy_edge: HaproxyEdge, upstreams: Pair, ports: Ports
) -> None:
    writer = make_writer(haproxy_settings(haproxy_edge), ssh_transport)

    first = await writer.apply(blue_green(upstreams, ports, blue_pct=100))
    swapped = await writer.apply(blue_green(upstreams, ports, blue_pct=0))

    assert (first.method, swapped.method) == ("reload", "runtime_api")
    observed = {b.name: b.weight_pct for b in await writer.observed_state("web")}
    assert observed == {"web-1-blue": 0, "web-1-green": 100}
