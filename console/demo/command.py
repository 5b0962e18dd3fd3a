"""``shipdeck demo``: the whole product, live, on one machine, in one command.

Interactive (default): bring the environment up, run the scenario (seed
history, then a canary of v3 the judge should catch) in a background process
with steady traffic, and open the console on it; quitting tears everything
down. ``--headless --scenario S`` prints JSON Lines instead and ends with a
summary event. ``--down`` stops a demo left running (``--keep``).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from console.cli_commands.context import CliContext
from console.core.errors import InvalidInput

if TYPE_CHECKING:
    # Imported lazily at run time: only ``shipdeck demo`` needs the demo environment.
    from console.demo.environment import DemoEnvironment

DEFAULT_DIR = ".shipdeck-demo"


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="run the whole product live on this machine")
    demo.add_argument("--scenario", choices=("bad", "good", "bluegreen"), default="bad")
    demo.add_argument(
        "--headless", action="store_true", help="run one scenario, print JSON Lines, tear down"
    )
    demo.add_argument(
        "--keep", action="store_true", help="leave the environment running afterwards"
    )
    demo.add_argument(
        "--down", action="store_true", help="stop and remove everything a demo started"
    )
    demo.add_argument(
        "--dir", default=DEFAULT_DIR, help=f"where all demo state lives (default {DEFAULT_DIR})"
    )
    demo.add_argument(
        "--no-prometheus", action="store_true", help="let the judge scrape instances directly"
    )
    demo.add_argument(
        "--screenshots", metavar="DIR", help="save SVG screenshots of every screen mid-canary"
    )
    demo.add_argument("--background", action="store_true", help=argparse.SUPPRESS)
    demo.set_defaults(handler=handle_demo)


def _progress(ctx: CliContext) -> Callable[[str], None]:
    def say(text: str) -> None:
        if ctx.json:
            ctx.out.event("progress", message=text)
        else:
            print(text, file=sys.stderr, flush=True)

    return say


async def handle_demo(args: argparse.Namespace, ctx: CliContext) -> int:
    from console.demo import environment

    directory = Path(args.dir)
    if args.down:
        stopped = environment.down(directory, progress=_progress(ctx))
        ctx.out.document({"down": stopped}, "")
        return 0
    if args.background:
        return await _background(directory, args.scenario)
    headless = args.headless or args.json
    if args.headless and not args.json:
        ctx.json = True
        ctx.out.json_mode = True
    env = await asyncio.to_thread(
        environment.DemoEnvironment.up,
        directory,
        progress=_progress(ctx),
        use_prometheus=not args.no_prometheus,
    )
    try:
        if headless:
            from console.demo.scenarios import run_scenario

            def emit(event: str, **fields: object) -> None:
                ctx.out.event(event, **fields)

            summary, code = await run_scenario(env, args.scenario, emit)
            ctx.out.event("summary", **summary)
            return code
        process = subprocess.Popen(  # our own interpreter and module, argv list
            [
                sys.executable,
                "-m",
                "console",
                "demo",
                "--background",
                "--dir",
                str(directory),
                "--scenario",
                args.scenario,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(directory / "background.log", "ab"),  # noqa: SIM115 - handed to the child
            start_new_session=True,
        )
        environment.record_background(directory, process.pid)
        if args.screenshots:
            return await _screenshots(env, Path(args.screenshots), _progress(ctx))
        from console.tui.app import run_console

        console_args = argparse.Namespace(
            config=str(env.config_path), state=str(env.state_path), read_only=False
        )
        return int(await asyncio.to_thread(run_console, console_args))
    finally:
        if not args.keep:
            await asyncio.to_thread(environment.down, directory, progress=_progress(ctx))


async def _background(directory: Path, scenario: str) -> int:
    """Seed history, keep traffic flowing, and run the scenario; then keep traffic going."""
    from console.demo import environment
    from console.demo.scenarios import Traffic, make_context, seed

    env = environment.attach(directory)
    op = make_context(env, lambda *a, **k: None)
    await seed(op, env, lambda *a, **k: None)
    traffic = Traffic(env.listen_port)
    traffic.start()
    await asyncio.sleep(5.0)
    from console.core.ops.canary import CanaryRequest, deploy_canary

    image = {"bad": "v3", "good": "v2"}.get(scenario, "v2")
    if scenario == "bluegreen":
        from console.core.ops.bluegreen import DeployRequest, deploy_blue_green

        await deploy_blue_green(op, DeployRequest("web", "production", "v2"))
    else:
        await deploy_canary(op, CanaryRequest("web", "production", image))
    await traffic.stop_event.wait()
    return 0


async def _screenshots(
    env: DemoEnvironment, directory: Path, progress: Callable[[str], None]
) -> int:
    """Wait until the canary is mid-analysis, then let the console photograph each screen."""
    from console.core.store import open_store

    store = open_store(env.state_path)
    for _ in range(600):
        running = store.in_progress("web", "production")
        if (
            running
            and running[-1].strategy == "canary"
            and str(running[-1].step or "").startswith("analysis")
        ):
            break
        await asyncio.sleep(0.5)
    else:
        raise InvalidInput("demo --screenshots: the canary never reached its analysis step")
    await asyncio.sleep(6.0)
    from console.tui.screenshots import save_screenshots

    directory.mkdir(parents=True, exist_ok=True)
    saved = await save_screenshots(str(env.config_path), str(env.state_path), directory)
    progress(f"saved {len(saved)} screenshots to {directory}")
    return 0
