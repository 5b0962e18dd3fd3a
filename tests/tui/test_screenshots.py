"""``save_screenshots`` photographs every screen (the lead runs it against the live demo)."""

from __future__ import annotations

from console.tui.screenshots import save_screenshots
from tests.tui.conftest import make_app


async def test_save_screenshots_writes_one_svg_per_screen(tmp_path, data, ops):
    saved = await save_screenshots(lambda: make_app(data, ops), tmp_path, settle_s=0.05)
    assert [p.name for p in saved] == [
        "overview.svg",
        "canary.svg",
        "history.svg",
        "flags.svg",
        "hosts.svg",
    ]
    canary = (tmp_path / "canary.svg").read_text()
    assert "<svg" in canary and "error_rate" in canary  # focused on the running canary
