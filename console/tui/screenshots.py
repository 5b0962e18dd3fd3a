"""SVG screenshots of the five screens, for the README: ``make screenshots``.

``save_screenshots(app_factory, directory)`` drives a console (real or fake
data) with Pilot through 1–5 and saves ``overview.svg``, ``canary.svg``,
``history.svg``, ``flags.svg`` and ``hosts.svg``;
``save_screenshots(config_path, state_path, directory)`` does the same for the
real console over that config and store, read-only. It first selects the
service whose canary is running (if any), so every screen has something to
show. Also runnable: ``python -m console.tui.screenshots --config C --state S
--out screenshots``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path

from console.tui.app import ShipdeckApp

SHOTS: tuple[tuple[str, str], ...] = (
    ("1", "overview"),
    ("2", "canary"),
    ("3", "history"),
    ("4", "flags"),
    ("5", "hosts"),
)


def _interesting_target(app: ShipdeckApp) -> str | None:
    """The target with a canary running, else one with a rollout, else None."""
    running = [s for s in app.statuses.values() if s.in_progress]
    canary = [s for s in running if s.in_progress and s.in_progress.is_canary]
    for status in canary or running:
        return f"{status.service}/{status.environment}"
    return None


async def save_screenshots(
    source: Callable[[], ShipdeckApp] | str | Path,
    state_or_directory: str | Path,
    directory: str | Path | None = None,
    *,
    size: tuple[int, int] = (120, 36),
    settle_s: float = 1.5,
    focus_on: str | None = None,
) -> list[Path]:
    """Drive the console through every screen and save one SVG per screen.

    ``source`` is an app factory (then the second argument is the directory)
    or a config path (then a state path and the directory follow).
    """
    if callable(source):
        return await _save(source, Path(state_or_directory), size, settle_s, focus_on)
    if directory is None:
        raise TypeError("save_screenshots(config_path, state_path, directory): directory missing")
    from console.tui.app import build_app

    args = argparse.Namespace(config=str(source), state=str(state_or_directory), read_only=True)
    app, close = build_app(args)
    try:
        return await _save(lambda: app, Path(directory), size, settle_s, focus_on)
    finally:
        close()


async def _save(
    app_factory: Callable[[], ShipdeckApp],
    out: Path,
    size: tuple[int, int],
    settle_s: float,
    focus_on: str | None,
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    app = app_factory()
    saved: list[Path] = []
    async with app.run_test(size=size) as pilot:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(settle_s, 5.0)
        while not app.statuses and loop.time() < deadline:
            await pilot.pause(0.05)
        target = focus_on or _interesting_target(app)
        if target and app.selected and app.selected.key != target:
            keys = [t.key for t in app.targets]
            if target in keys:
                for _ in range(keys.index(target) - keys.index(app.selected.key)):
                    await pilot.press("down")
        await pilot.pause(settle_s)
        for key, name in SHOTS:
            await pilot.press(key)
            await pilot.pause(settle_s)
            saved.append(Path(app.save_screenshot(filename=f"{name}.svg", path=str(out))))
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--config")
    parser.add_argument("--state")
    parser.add_argument("--out", default="screenshots")
    parser.add_argument("--focus", help="SERVICE/ENV to select first")
    args = parser.parse_args(argv)
    saved = asyncio.run(save_screenshots(args.config, args.state, args.out, focus_on=args.focus))
    for path in saved:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
