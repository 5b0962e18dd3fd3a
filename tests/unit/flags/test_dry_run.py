"""``flags … --dry-run``: the change every changing subcommand would make, printed
from the same change function, and nothing written, locked or audited."""

from __future__ import annotations

import json

import pytest

from tests.unit.flags.test_cli_hardening import FLAG, env, shipdeck  # noqa: F401 (fixture)


@pytest.mark.parametrize(
    "argv",
    [
        ("set", "f", "--percent", "25"),
        ("on", "f"),
        ("off", "f", "--env", "production"),
        ("kill", "f"),
        ("stage", "f", "rollout"),
        ("delete", "f"),
    ],
    ids=["set", "on", "off", "kill", "stage", "delete"],
)
def test_a_dry_run_prints_the_change_and_writes_nothing(env, argv):  # noqa: F811
    path = env / "flags.toml"
    path.write_text(FLAG)

    code, out, err = shipdeck(env, *argv, "--dry-run")

    assert code == 0, err
    assert out.startswith("plan (dry run, nothing written): ")
    assert path.read_text() == FLAG
    assert sorted(p.name for p in env.iterdir()) == ["flags.toml"]  # no lock file, no state DB


def test_a_dry_run_says_so_in_json(env):  # noqa: F811
    (env / "flags.toml").write_text(FLAG)

    code, out, _ = shipdeck(env, "set", "f", "--percent", "25", "--dry-run", "--json")

    document = json.loads(out)
    assert code == 0 and document["dry_run"] is True
    assert document["flag"]["production_percent"] == 25


def test_a_dry_run_refuses_what_the_change_would_refuse(env):  # noqa: F811
    (env / "flags.toml").write_text(FLAG)

    code, _, err = shipdeck(env, "set", "nope", "--percent", "25", "--dry-run")

    assert code == 2 and "nope" in err
