"""Code references: file:line for each flag in a source tree, the way git sees the tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.flags import scan_references

KEYS = ["new-checkout-flow", "dark-mode", "search.v2", "unused-flag"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    files = {
        ".gitignore": "build/\n*.log\n!keep.log\n",
        "app/checkout.py": (
            "from console.flags import FlagFile\n"
            "\n"
            "def handler(flags, user):\n"
            '    if flags.enabled("new-checkout-flow", user_id=user.id):\n'
            "        return new_flow()\n"
            "    return old_flow()\n"
        ),
        "app/theme.ts": "const dark = flags.enabled('dark-mode');\nconst x = 'dark-mode-v2';\n",
        "app/search.go": 'if flags.Enabled("search.v2") {}\nif flags.Enabled("search.v20") {}\n',
        "deploy/env.sh": "export SHIPDECK_FLAG_NEW_CHECKOUT_FLOW=on\n",
        "build/generated.py": 'flags.enabled("dark-mode")\n',
        "debug.log": "dark-mode\n",
        "keep.log": "dark-mode was turned on\n",
        "vendor/.gitignore": "*.js\n",
        "vendor/lib.js": "'new-checkout-flow'\n",
        "vendor/lib.py": "'search.v2'\n",
        ".git/config": "dark-mode\n",
        "config/flags.toml": "[flags.unused-flag]\nowner = 'x'\n# unused-flag\n",
    }
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    (tmp_path / "app" / "logo.png").write_bytes(b"\x89PNG\0\0dark-mode")
    return tmp_path


def refs(tree: Path) -> dict[str, list[str]]:
    found = scan_references(tree, KEYS, exclude=[tree / "config" / "flags.toml"])
    return {key: [f"{r.path}:{r.line}" for r in found[key]] for key in KEYS}


def test_references_are_reported_as_file_and_line(tree):
    assert refs(tree)["new-checkout-flow"] == ["app/checkout.py:4", "deploy/env.sh:1"]


def test_gitignored_files_and_directories_are_skipped_but_negations_kept(tree):
    assert refs(tree)["dark-mode"] == ["app/theme.ts:1", "keep.log:1"]


def test_nested_gitignore_files_apply_to_their_directory(tree):
    assert refs(tree)["search.v2"] == ["app/search.go:1", "vendor/lib.py:1"]


def test_a_longer_key_is_not_a_reference_to_a_shorter_one(tree):
    assert "app/theme.ts:2" not in refs(tree)["dark-mode"]
    assert "app/search.go:2" not in refs(tree)["search.v2"]


def test_a_flag_referenced_nowhere_but_the_flags_file_has_no_references(tree):
    assert refs(tree)["unused-flag"] == []


def test_reference_carries_the_line_text(tree):
    (first, _) = scan_references(tree, ["new-checkout-flow"])["new-checkout-flow"]
    assert first.text == 'if flags.enabled("new-checkout-flow", user_id=user.id):'
