"""What an operator sees of the state store on the command line: a shared
store that cannot be reached or refuses the login is one line naming
host:port and exit 4 (never a password); a URL that is not PostgreSQL's, or
that holds a password, is invalid input (exit 2, with FILE:LINE from a
config); ``state check`` and ``state migrate``."""

from __future__ import annotations

import json

import pytest

from console.core.store import open_store
from console.demo.rig.daemons import free_port
from tests.integration.store.contract_data import NOW, REF
from tests.integration.store.helpers import open_at, shipdeck

pytestmark = pytest.mark.rig

PASSWORD = "correct-horse-7"
WRONG = "wrong-battery-9"


@pytest.fixture(scope="session")
def operator_role(postgres):
    postgres.create_role("operator_ann", PASSWORD)
    return "operator_ann"


@pytest.fixture
def ann_database(postgres, operator_role, request):
    return postgres.create_database(f"ann_{request.node.name[-40:].lower()}", owner=operator_role)


def _one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_the_right_password_from_pgpassword_opens_the_shared_store(tmp_path, ann_database):
    result = shipdeck(
        "history", cwd=tmp_path, env={"SHIPDECK_STATE_URL": ann_database, "PGPASSWORD": PASSWORD}
    )
    assert result.returncode == 0, result.stderr


def test_a_wrong_password_is_one_line_naming_host_and_port_and_exit_4(
    tmp_path, postgres, ann_database
):
    result = shipdeck(
        "history", cwd=tmp_path, env={"SHIPDECK_STATE_URL": ann_database, "PGPASSWORD": WRONG}
    )
    assert result.returncode == 4
    line = _one_line(result)
    assert f"127.0.0.1:{postgres.port}" in line and "password authentication failed" in line
    assert WRONG not in result.stdout + result.stderr


def test_an_unreachable_server_is_one_line_naming_host_and_port_and_exit_4(tmp_path):
    port = free_port()
    url = f"postgresql://ann@127.0.0.1:{port}/shipdeck"
    result = shipdeck("history", cwd=tmp_path, env={"SHIPDECK_STATE_URL": url, "PGPASSWORD": WRONG})
    assert result.returncode == 4
    assert f"127.0.0.1:{port}" in _one_line(result)
    assert WRONG not in result.stdout + result.stderr


def test_a_state_url_that_is_not_postgresql_is_invalid_input(tmp_path):
    result = shipdeck(
        "history", cwd=tmp_path, env={"SHIPDECK_STATE_URL": "mysql://ann@db:3306/shipdeck"}
    )
    assert result.returncode == 2 and "SHIPDECK_STATE_URL" in _one_line(result)


def test_a_config_state_url_with_a_password_is_refused_at_its_line_without_printing_it(tmp_path):
    config = tmp_path / "shipdeck.toml"
    config.write_text(f'lock_lease_s = 30\nstate_url = "postgresql://ann:{WRONG}@db:5432/x"\n')
    result = shipdeck("history", cwd=tmp_path)
    assert result.returncode == 2
    assert _one_line(result).startswith("shipdeck: error: shipdeck.toml:2: state_url: a password")
    assert WRONG not in result.stdout + result.stderr


def test_a_config_state_url_of_another_database_is_refused_at_its_line(tmp_path):
    (tmp_path / "shipdeck.toml").write_text('state_url = "sqlite:///tmp/x.db"\n')
    result = shipdeck("config", "check", cwd=tmp_path)
    assert result.returncode == 2 and "shipdeck.toml:1: state_url: " in result.stderr


def test_the_config_state_url_is_used_and_the_environment_wins_over_it(
    tmp_path, postgres, empty_database
):
    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/shipdeck"
    (tmp_path / "shipdeck.toml").write_text(f'state_url = "{empty_database}"\n')
    used = shipdeck("state", "check", "--json", cwd=tmp_path)
    assert used.returncode == 0 and json.loads(used.stdout)["store"] == "postgresql"
    overridden = shipdeck(
        "state", "check", "--json", cwd=tmp_path, env={"SHIPDECK_STATE_URL": unreachable}
    )
    assert overridden.returncode == 4 and json.loads(overridden.stdout)["reachable"] is False


def test_state_check_reports_a_reachable_shared_store_and_its_schema(tmp_path, empty_database):
    result = shipdeck(
        "state", "check", "--json", cwd=tmp_path, env={"SHIPDECK_STATE_URL": empty_database}
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["store"] == "postgresql" and doc["reachable"] is True
    assert doc["schema_version"] == doc["latest_schema_version"] == 2
    assert doc["location"] == empty_database


def test_state_check_exits_4_when_the_shared_store_is_unreachable(tmp_path):
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/shipdeck"
    result = shipdeck("state", "check", "--json", cwd=tmp_path, env={"SHIPDECK_STATE_URL": url})
    assert result.returncode == 4
    doc = json.loads(result.stdout)
    assert doc["reachable"] is False and "is unreachable" in doc["error"]


def test_state_on_the_command_line_forces_the_sqlite_file(tmp_path):
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/shipdeck"
    path = tmp_path / "mine.db"
    result = shipdeck(
        "--state", str(path), "state", "check", "--json", cwd=tmp_path,
        env={"SHIPDECK_STATE_URL": url},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) | {"schema_version": None} == {
        "store": "sqlite",
        "location": str(path),
        "reachable": True,
        "schema_version": None,
        "latest_schema_version": 2,
        "error": None,
    }


def test_state_migrate_copies_every_table_keeping_ids_and_a_second_run_adds_nothing(
    tmp_path, empty_database
):
    path = tmp_path / "state.db"
    local = open_store(path)
    release = local.record_release("web", "production", REF, "v1", NOW)
    for n in range(3):
        dep = local.start_deployment(
            "web", "production", "bg", "deploy", None, release.id, "ann", NOW
        )
        local.add_event(dep, "step", f"step {n}", NOW, {"n": n})
        local.finish_deployment(dep, "succeeded", None, NOW)
    local.try_lock("web", "ann", "freeze", 30, NOW)
    local.audit("ann", "lock", "web", "", NOW)
    local.record_flag_change("f", None, "ann", None, {"on": True}, NOW)
    local.record_drill("web", "production", "succeeded", 1.0, 2.0, "", NOW)
    local.close()
    first = shipdeck(
        "--state", str(path), "state", "migrate", "--to", empty_database, "--json", cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr
    tables = json.loads(first.stdout)["tables"]
    assert tables["deployments"] == {"rows": 3, "copied": 3, "already_present": 0}
    assert tables["events"]["copied"] == 3 and tables["locks"]["copied"] == 1
    second = shipdeck(
        "--state", str(path), "state", "migrate", "--to", empty_database, "--json", cwd=tmp_path
    )
    assert all(t["copied"] == 0 for t in json.loads(second.stdout)["tables"].values())
    local_history = shipdeck("--state", str(path), "history", "--json", cwd=tmp_path)
    shared_history = shipdeck(
        "history", "--json", cwd=tmp_path, env={"SHIPDECK_STATE_URL": empty_database}
    )
    assert json.loads(local_history.stdout) == json.loads(shared_history.stdout)
    shared = open_at(empty_database)
    try:
        assert shared.lock("web").holder == "ann"
        new = shared.start_deployment("web", "production", "bg", "deploy", None, None, "bob", NOW)
        assert new == 4  # the id sequence continues after the copied ids
    finally:
        shared.close()


def test_state_migrate_refuses_a_target_url_that_holds_a_password(tmp_path):
    open_store(tmp_path / "state.db").close()
    result = shipdeck(
        "--state", str(tmp_path / "state.db"), "state", "migrate", "--to",
        f"postgresql://ann:{WRONG}@127.0.0.1:5432/x", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2 and WRONG not in result.stdout + result.stderr
