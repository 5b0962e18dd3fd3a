"""Percentage bucketing: deterministic, monotonic, and the same as Unleash's gradual rollout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.flags import FlagFile, bucket
from console.flags.model import Flag, FlagSet
from console.flags.store import render

ROOT = Path(__file__).resolve().parents[3]
USERS = [f"user-{i}" for i in range(5000)]


def write_flag(path: Path, key: str, percent: int, **fields: object) -> None:
    flag = Flag(key=key, owner="team", type="release", created=date(2026, 1, 1))
    flag = replace(flag, **fields).with_env("production", enabled=True, percent=percent)
    path.write_text(render(FlagSet({key: flag})))


def enabled_users(path: Path, key: str) -> set[str]:
    flags = FlagFile(path, "production", watch=False)
    return {u for u in USERS if flags.enabled(key, user_id=u)}


def test_published_unleash_vectors_match():
    # From the Unleash client specification tests (node, java and go clients agree):
    # normalizedValue("123", "gr1") == 73 and normalizedValue("999", "groupX") == 25.
    assert bucket("gr1", "123") == 73
    assert bucket("groupX", "999") == 25


def test_bucket_equals_unleash_client_normalized_hash_for_many_pairs():
    from UnleashClient.utils import normalized_hash

    keys = ["new-checkout-flow", "dark-mode", "search.v2", "a", "x_y-z.9"]
    for key in keys:
        for user in USERS[:1000]:
            assert bucket(key, user) == normalized_hash(user, key)


@settings(max_examples=300, deadline=None)
@given(key=st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True), user=st.text(max_size=40))
def test_bucket_equals_unleash_normalized_hash_for_arbitrary_keys_and_users(key, user):
    from UnleashClient.utils import normalized_hash

    assert bucket(key, user) == normalized_hash(user, key)


@pytest.mark.parametrize("percent", [1, 10, 33, 50, 99])
def test_enabled_agrees_with_unleash_client_is_enabled_offline(tmp_path, percent):
    from UnleashClient import UnleashClient
    from UnleashClient.cache import FileCache

    key = "new-checkout-flow"
    cache = FileCache("shipdeck-flags-test", directory=str(tmp_path / "unleash-cache"))
    cache.bootstrap_from_dict(
        {
            "version": 1,
            "features": [
                {
                    "name": key,
                    "enabled": True,
                    "strategies": [
                        {
                            "name": "flexibleRollout",
                            "parameters": {
                                "rollout": str(percent),
                                "stickiness": "userId",
                                "groupId": key,
                            },
                        }
                    ],
                }
            ],
        }
    )
    client = UnleashClient(
        url="http://127.0.0.1:9",
        app_name="shipdeck-flags-test",
        disable_metrics=True,
        disable_registration=True,
        cache=cache,
    )
    client.initialize_client(fetch_toggles=False)
    try:
        write_flag(tmp_path / "flags.toml", key, percent)
        ours = FlagFile(tmp_path / "flags.toml", "production", watch=False)
        for user in USERS[:2000]:
            assert ours.enabled(key, user_id=user) == client.is_enabled(key, {"userId": user})
    finally:
        client.destroy()


def test_growing_the_percentage_only_adds_users(tmp_path):
    path = tmp_path / "flags.toml"
    cohorts = []
    for percent in (0, 1, 10, 25, 50, 75, 99, 100):
        write_flag(path, "grow", percent)
        cohorts.append(enabled_users(path, "grow"))
    for smaller, larger in zip(cohorts, cohorts[1:], strict=False):
        assert smaller <= larger
    assert cohorts[0] == set() and cohorts[-1] == set(USERS)


def test_rollout_share_is_close_to_the_percentage(tmp_path):
    write_flag(tmp_path / "flags.toml", "share", 10)
    share = len(enabled_users(tmp_path / "flags.toml", "share")) / len(USERS)
    assert 0.08 <= share <= 0.12


def test_same_user_gets_a_different_bucket_in_a_different_flag():
    same = sum(bucket("flag-a", u) == bucket("flag-b", u) for u in USERS)
    assert same < len(USERS) * 0.05


def test_buckets_are_identical_in_other_processes_with_other_hash_seeds():
    code = (
        "import json, sys\n"
        "from console.flags import bucket\n"
        "users = json.loads(sys.stdin.read())\n"
        "print(json.dumps([bucket('new-checkout-flow', u) for u in users]))\n"
    )
    expected = [bucket("new-checkout-flow", u) for u in USERS[:500]]
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", code],
            input=json.dumps(USERS[:500]),
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=60,
            check=True,
        )
        assert json.loads(result.stdout) == expected


def test_integer_user_ids_bucket_like_their_decimal_string():
    assert all(bucket("k", i) == bucket("k", str(i)) for i in range(1000))


@settings(max_examples=200, deadline=None)
@given(
    percent=st.integers(0, 100),
    users=st.lists(st.one_of(st.text(max_size=30), st.integers()), min_size=1, max_size=20),
)
def test_fast_path_agrees_with_the_general_evaluator(percent, users):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "flags.toml"
        write_flag(path, "agree", percent)
        flags = FlagFile(path, "production", watch=False)
        for user in users:
            assert (
                flags.enabled("agree", user_id=user)
                == flags.evaluate("agree", {"user_id": user}).value
            )
