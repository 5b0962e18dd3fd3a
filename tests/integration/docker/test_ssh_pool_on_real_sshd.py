"""The SSH pool against a real OpenSSH server."""

from __future__ import annotations

import asyncio

import pytest

from console.demo.rig.rig import RigHost
from engines.errors import EngineOperationFailed
from engines.ssh import SshPool

pytestmark = pytest.mark.rig


async def test_one_connection_per_host_is_reused(
    rig_hosts: list[RigHost], ssh_pool: SshPool
) -> None:
    target = rig_hosts[0].ssh_target()

    connections = await asyncio.gather(*(ssh_pool.connection(target) for _ in range(5)))

    assert len({id(connection) for connection in connections}) == 1
    assert await ssh_pool.connection(target) is connections[0]


async def test_arguments_reach_the_program_verbatim_without_a_shell(
    rig_hosts: list[RigHost], ssh_pool: SshPool
) -> None:
    hostile = ["$(touch /tmp/shipdeck-pwned)", "a; rm -rf /", "it's", "two words", "`id`", "*"]

    result = await ssh_pool.run(rig_hosts[0].ssh_target(), ["printf", "%s\\n", *hostile])

    assert result.stdout.splitlines() == hostile


async def test_failing_command_names_the_host_the_program_and_its_stderr(
    rig_hosts: list[RigHost], ssh_pool: SshPool
) -> None:
    target = rig_hosts[0].ssh_target()

    with pytest.raises(EngineOperationFailed) as failed:
        await ssh_pool.run(target, ["ls", "/no/such/dir"])

    assert failed.value.target == target.name
    assert "command 'ls' exited with status 2" in failed.value.cause
    assert "No such file or directory" in failed.value.cause


async def test_file_is_replaced_atomically_with_the_given_mode(
    rig_hosts: list[RigHost], ssh_pool: SshPool
) -> None:
    target = rig_hosts[0].ssh_target()
    path = f"/tmp/shipdeck-atomic-{target.name}.conf"
    try:
        await ssh_pool.write_file_atomic(target, path, b"old\n")
        await ssh_pool.write_file_atomic(target, path, b"new\n", mode=0o600)

        content = await ssh_pool.run(target, ["cat", path])
        mode = await ssh_pool.run(target, ["stat", "-c", "%a", path])
        leftovers = await ssh_pool.run(target, ["ls", "-a", "/tmp"])
    finally:
        await ssh_pool.run(target, ["rm", "-f", path], check=False)

    assert content.stdout == "new\n"
    assert mode.stdout.strip() == "600"
    temp_prefix = f".shipdeck-atomic-{target.name}.conf.shipdeck-"
    assert not [name for name in leftovers.stdout.split() if name.startswith(temp_prefix)]


async def test_tcp_port_on_the_host_can_be_probed_through_the_connection(
    rig_hosts: list[RigHost], ssh_pool: SshPool
) -> None:
    host = rig_hosts[0]
    reader, writer = await ssh_pool.open_tcp(host.ssh_target(), "127.0.0.1", host.ssh_port)

    greeting = await asyncio.wait_for(reader.readline(), 5)
    writer.close()

    assert greeting.startswith(b"SSH-2.0-")
