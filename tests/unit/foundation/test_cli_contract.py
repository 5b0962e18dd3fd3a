"""The headless CLI contract: exit codes, JSON shapes, errors on stderr and as JSON."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from console.cli import run
from console.cli_commands.output import Output

CONFIG = textwrap.dedent(
    """\
    [hosts.web-1]
    address = "local"

    [load_balancers.edge]
    kind = "nginx"

    [services.web]
    image = "127.0.0.1:5000/demo"
    hosts = ["web-1"]
    load_balancer = "edge"
    listen = "127.0.0.1:8080"
    preview_listen = "127.0.0.1:8081"
    base_port = 18080
    """
)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "shipdeck.toml"
    path.write_text(CONFIG)
    return path


def invoke(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), Output("--json" in argv, out, err))
    return code, out.getvalue(), err.getvalue()


def test_config_check_prints_the_resolved_model_as_json(config_path):
    code, out, _ = invoke("--config", str(config_path), "--json", "config", "check")
    doc = json.loads(out)
    assert (
        code == 0
        and doc["ok"] is True
        and doc["config"]["services"]["web"]["image"] == "127.0.0.1:5000/demo"
    )


def test_invalid_config_exits_2_with_every_error_as_json(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(CONFIG.replace('"web-1"]', '"web-9"]'))
    code, out, err = invoke("--config", str(bad), "--json", "config", "check")
    error = json.loads(out)["error"]
    assert code == 2 and error["code"] == "config_invalid"
    assert error["details"] == [f'{bad}:9: services.web.hosts: unknown host "web-9"']
    assert 'unknown host "web-9"' in err and "Traceback" not in err


def test_global_options_work_after_the_command_too(config_path):
    code, out, _ = invoke("config", "check", "--config", str(config_path), "--json")
    assert code == 0 and json.loads(out)["ok"]


def test_unknown_command_is_invalid_input_exit_2():
    code, out, err = invoke("--json", "frobnicate")
    assert code == 2 and json.loads(out)["error"]["code"] == "invalid" and "invalid choice" in err


def test_lock_then_second_lock_is_blocked_with_exit_3(config_path, tmp_path):
    state = str(tmp_path / "state.db")
    assert (
        invoke("--config", str(config_path), "--state", state, "lock", "web", "--reason", "freeze")[
            0
        ]
        == 0
    )
    code, out, _ = invoke(
        "--config", str(config_path), "--state", state, "--json", "lock", "web", "--reason", "x"
    )
    error = json.loads(out)["error"]
    assert (
        code == 3
        and error["code"] == "blocked"
        and "locked by" in error["message"]
        and "freeze" in error["message"]
    )


def test_unlock_of_someone_elses_lock_needs_force(config_path, tmp_path, monkeypatch):
    state = str(tmp_path / "state.db")
    monkeypatch.setenv("SHIPDECK_OPERATOR", "ann")
    invoke("--config", str(config_path), "--state", state, "lock", "web", "--reason", "freeze")
    monkeypatch.setenv("SHIPDECK_OPERATOR", "bob")
    assert invoke("--config", str(config_path), "--state", state, "unlock", "web")[0] == 3
    code, out, _ = invoke(
        "--config", str(config_path), "--state", state, "--json", "unlock", "web", "--force"
    )
    assert code == 0 and json.loads(out)["forced"] is True


def test_unknown_service_is_invalid_input(config_path, tmp_path):
    code, _, err = invoke(
        "--config",
        str(config_path),
        "--state",
        str(tmp_path / "s.db"),
        "lock",
        "api",
        "--reason",
        "x",
    )
    assert code == 2 and 'unknown service "api"' in err


def test_history_json_is_a_page_of_deployments(config_path, tmp_path):
    code, out, _ = invoke(
        "--config",
        str(config_path),
        "--state",
        str(tmp_path / "s.db"),
        "--json",
        "history",
        "--limit",
        "5",
    )
    assert code == 0 and json.loads(out) == {"deployments": [], "next_before": None}


def test_history_rejects_a_bad_since(config_path, tmp_path):
    code, _, err = invoke(
        "--config",
        str(config_path),
        "--state",
        str(tmp_path / "s.db"),
        "history",
        "--since",
        "yesterday",
    )
    assert code == 2 and "--since 'yesterday'" in err


def test_status_json_lists_each_service_environment(config_path, tmp_path):
    code, out, _ = invoke(
        "--config",
        str(config_path),
        "--state",
        str(tmp_path / "s.db"),
        "--json",
        "status",
        "--no-hosts",
    )
    services = json.loads(out)["services"]
    assert code == 0 and [
        (s["service"], s["environment"], s["live_release"]) for s in services
    ] == [("web", "production", None)]


def test_missing_config_is_invalid_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHIPDECK_CONFIG", raising=False)
    code, _, err = invoke("status")
    assert code == 2 and "no config found" in err


def test_shipdeck_help_documents_the_exit_codes():
    result = subprocess.run(
        [sys.executable, "-m", "console", "--help"], capture_output=True, text=True, check=True
    )
    for line in (
        "0  success",
        "2  invalid input or config",
        "3  blocked",
        "4  infrastructure unreachable",
    ):
        assert line in result.stdout


def test_hosts_with_a_malformed_known_hosts_file_is_invalid_input_in_one_line(tmp_path):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("@bogus [127.0.0.1]:2222 ssh-ed25519 AAAA\n")
    config = tmp_path / "shipdeck.toml"
    config.write_text(
        '[hosts.web-1]\naddress = "ssh://deploy@127.0.0.1:2222"\n'
        f'known_hosts = "{known_hosts}"\npublish_address = "127.0.0.1"\n'
    )
    code, out, _ = invoke("--config", str(config), "--state", str(tmp_path / "s.db"), "hosts")
    assert code == 2
    assert out.strip().splitlines() == [
        f"web-1: INVALID — web-1: known_hosts file {known_hosts} cannot be read: "
        "Invalid known hosts marker: bogus"
    ]


@pytest.mark.parametrize("command", [["promote", "web"], ["abort", "web"]])
def test_a_dry_run_with_no_rollout_in_progress_is_blocked_like_the_run(
    config_path, tmp_path, command
):
    state = str(tmp_path / "state.db")
    code, out, err = invoke("--config", str(config_path), "--state", state, *command, "--dry-run")
    assert code == 3 and "no rollout in progress" in err and err.count("\n") == 1
