"""SshTarget validation, argv quoting and connect failures — no rig needed."""

from __future__ import annotations

import asyncio
import shlex
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.errors import InvalidTargetInput, TargetUnreachable
from engines.ssh import SshPool, SshTarget, quote_argv


def target(tmp_path: Path, **overrides: object) -> SshTarget:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.touch()
    fields: dict[str, object] = {
        "name": "web-1",
        "address": "127.0.0.1",
        "port": 2222,
        "known_hosts": known_hosts,
        "connect_timeout_s": 0.5,
    }
    fields.update(overrides)
    return SshTarget(**fields)  # type: ignore[arg-type]


@given(st.lists(st.text().filter(lambda text: "\0" not in text), min_size=1))
def test_quoted_argv_splits_back_into_the_same_arguments(argv: list[str]) -> None:
    assert shlex.split(quote_argv(argv)) == argv


def test_a_shell_string_is_refused_as_argv() -> None:
    with pytest.raises(ValueError, match="not a shell string"):
        quote_argv("rm -rf /tmp/x")  # type: ignore[arg-type]


@pytest.mark.parametrize("argv", [[], ["echo", "a\0b"], ["echo", 3]])
def test_empty_or_nul_or_non_string_argv_is_refused(argv: list[object]) -> None:
    with pytest.raises(ValueError):
        quote_argv(argv)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "address", ["-oProxyCommand=sh", "host;reboot", "a b", "", "$(id)", "host_name"]
)
def test_an_address_a_shell_or_ssh_could_misread_is_refused(tmp_path: Path, address: str) -> None:
    with pytest.raises(InvalidTargetInput, match="neither an IP nor a host name"):
        target(tmp_path, address=address)


@pytest.mark.parametrize("port", [0, 65536, -1, True, "22"])
def test_a_port_out_of_range_is_refused(tmp_path: Path, port: object) -> None:
    with pytest.raises(InvalidTargetInput, match="port"):
        target(tmp_path, port=port)


@pytest.mark.parametrize("user", ["root;id", "-l", "", "Admin"])
def test_an_invalid_user_is_refused(tmp_path: Path, user: str) -> None:
    with pytest.raises(InvalidTargetInput, match="SSH user"):
        target(tmp_path, user=user)


def test_valid_targets_accept_names_ips_and_ipv6(tmp_path: Path) -> None:
    assert target(tmp_path, address="db-1.internal.example").endpoint.endswith(":2222")
    assert target(tmp_path, address="::1").address == "::1"


async def test_a_missing_known_hosts_file_is_refused_before_connecting(tmp_path: Path) -> None:
    missing = target(tmp_path, known_hosts=tmp_path / "absent")

    async with SshPool() as pool:
        with pytest.raises(InvalidTargetInput, match=f"known_hosts file {tmp_path}/absent"):
            await pool.connection(missing)


async def test_a_missing_identity_file_is_refused_before_connecting(tmp_path: Path) -> None:
    missing = target(tmp_path, identity_file=tmp_path / "id_none")

    async with SshPool() as pool:
        with pytest.raises(InvalidTargetInput, match="identity file"):
            await pool.connection(missing)


async def test_a_malformed_known_hosts_file_is_one_line_of_bad_input(tmp_path: Path) -> None:
    broken = tmp_path / "known_hosts_broken"
    broken.write_text("@bogus [127.0.0.1]:2222 ssh-ed25519 AAAA\n")

    async with SshPool() as pool:
        with pytest.raises(InvalidTargetInput, match="cannot be read") as raised:
            await pool.connection(target(tmp_path, known_hosts=broken))
    assert "\n" not in str(raised.value)


async def test_a_binary_known_hosts_file_is_one_line_of_bad_input(tmp_path: Path) -> None:
    binary = tmp_path / "known_hosts_binary"
    binary.write_bytes(b"\xff\xfe\x00garbage")

    async with SshPool() as pool:
        with pytest.raises(InvalidTargetInput, match="cannot be read"):
            await pool.connection(target(tmp_path, known_hosts=binary))


async def test_a_passphrase_protected_identity_file_says_so(tmp_path: Path) -> None:
    key = tmp_path / "id_encrypted"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "s3cret", "-f", str(key)],
        check=True,
        capture_output=True,
    )

    async with SshPool() as pool:
        with pytest.raises(InvalidTargetInput, match="passphrase-protected"):
            await pool.connection(target(tmp_path, identity_file=key))


async def test_a_garbage_identity_file_is_one_line_of_bad_input(tmp_path: Path) -> None:
    garbage = tmp_path / "id_garbage"
    garbage.write_text("not a key\n")

    async with SshPool() as pool:
        with pytest.raises(InvalidTargetInput, match="not a private key"):
            await pool.connection(target(tmp_path, identity_file=garbage))


async def test_run_refuses_a_shell_string_naming_the_host(tmp_path: Path) -> None:
    async with SshPool() as pool:
        with pytest.raises(InvalidTargetInput, match="web-1: argv must be a list"):
            await pool.run(target(tmp_path), "echo hi")  # type: ignore[arg-type]


async def test_nobody_listening_is_connection_refused_naming_host_and_endpoint(
    tmp_path: Path,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]

    async with SshPool() as pool:
        with pytest.raises(TargetUnreachable) as refused:
            await pool.connection(target(tmp_path, port=free))

    assert refused.value.target == "web-1"
    assert refused.value.cause == f"SSH connection refused at 127.0.0.1:{free} (is sshd running?)"


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """Accepts TCP and never says a word (a hung host or a black-holing firewall)."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


async def test_a_silent_host_times_out_after_the_connect_timeout(
    tmp_path: Path, silent_server: int
) -> None:
    async with SshPool() as pool:
        with pytest.raises(TargetUnreachable, match="timed out after 0.5s") as timed_out:
            await asyncio.wait_for(pool.connection(target(tmp_path, port=silent_server)), 5)

    assert timed_out.value.target == "web-1"


async def test_forwarding_refuses_a_relative_socket_path(tmp_path: Path) -> None:
    async with SshPool() as pool:
        with pytest.raises(InvalidTargetInput, match="must be absolute"):
            await pool.forward_unix_socket(target(tmp_path), "docker.sock")


async def test_callers_waiting_on_a_failing_connect_share_its_failure(
    tmp_path: Path, silent_server: int
) -> None:
    hung = target(tmp_path, port=silent_server)
    started = asyncio.get_running_loop().time()

    async with SshPool() as pool:
        outcomes = await asyncio.gather(
            *(pool.connection(hung) for _ in range(4)), return_exceptions=True
        )

    assert all(isinstance(outcome, TargetUnreachable) for outcome in outcomes)
    assert asyncio.get_running_loop().time() - started < 1.5


@pytest.mark.parametrize("name", ["web-1\n", "web-1\r\n"])
def test_a_host_name_with_a_trailing_line_break_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidTargetInput):
        target(tmp_path, name=name)
