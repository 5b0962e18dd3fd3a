"""The changing actions as flows: gather what is needed, confirm, then run the operation.

Each flow runs in a worker (so it may wait on a modal with ``push_screen_wait``)
and ends in one ``ConsoleOps`` call made by the app's ``run_op`` — or, for a
deploy, a detached ``shipdeck deploy`` process the app then follows.
The texts name exactly what will happen and the equivalent headless command.
Flows see the app only as a ``FlowHost`` (``protocol.py``): they never import it.
"""

from __future__ import annotations

from console.core.text import printable
from console.tui.background import in_thread
from console.tui.data import Target
from console.tui.dialogs.confirm import ask
from console.tui.dialogs.forms import DeployDialog, LockDialog, ReleasePicker
from console.tui.ops import (
    abort_command,
    deploy_command,
    lock_command,
    promote_command,
    rollback_command,
    unlock_command,
)
from console.tui.protocol import FlowHost


class ActionFlows:
    """R, P, A, D, L on a target: gather, confirm, run (each awaited in an app worker)."""

    def __init__(self, console: FlowHost) -> None:
        self.console = console

    async def rollback(self, target: Target) -> None:
        try:
            choices = await in_thread(
                self.console.data.releases, target.service, target.environment
            )
        except Exception as error:
            self.console.notify(f"cannot list releases: {one_line(error)}", severity="error")
            return
        if not choices:
            self.console.notify(
                f"{target.key}: no retained release to roll back to", severity="warning"
            )
            return
        choice = await self.console.push_screen_wait(
            ReleasePicker(target, choices, self.console.data.clock.now())
        )
        if choice is None:
            return
        status = self.console.statuses.get(target.key)
        live = status.live_release if status else None
        if choice.baseline:
            canary = status.canary_release if status else None
            summary = (
                f"{target.label}: canary {canary or '?'} → {choice.name}: abort the canary, "
                "all traffic to the baseline, canary stopped"
            )
        else:
            how = (
                "warm standby, swap only"
                if choice.warm
                else f"cold: start {choice.image_ref}, health-check, swap"
            )
            summary = f"{target.label}: {live or 'nothing'} → {choice.name}, {how}"
        if await ask(
            self.console,
            f"Roll back {target.key}?",
            printable(summary),
            rollback_command(target.service, target.environment, choice.name),
            confirm_label="Roll back",
            target=target,
        ):
            await self.console.run_op(
                f"rollback {target.key} → {choice.name}",
                self.console.ops.rollback,
                target.service,
                target.environment,
                choice.name,
            )

    async def promote(self, target: Target) -> None:
        status = self.console.statuses.get(target.key)
        progress = status.in_progress if status else None
        if not progress or not status:
            self.console.notify(f"{target.key}: no canary in progress", severity="warning")
            return
        step = progress.step_index
        where = f"step {int(step) + 1}" if step is not None else "its current step"
        summary = (
            f"{target.label}: promote canary {status.canary_release or '?'} now: skip the "
            f"remaining steps (at {where}, {progress.weight_pct or 0}%) and go to 100%; "
            f"baseline {status.live_release or '-'} stays warm"
        )
        if await ask(
            self.console,
            f"Promote {target.key}?",
            summary,
            promote_command(target.service, target.environment),
            confirm_label="Promote",
            target=target,
        ):
            await self.console.run_op(
                f"promote {target.key}",
                self.console.ops.promote,
                target.service,
                target.environment,
            )

    async def abort(self, target: Target) -> None:
        status = self.console.statuses.get(target.key)
        progress = status.in_progress if status else None
        if not progress or not status:
            self.console.notify(f"{target.key}: no rollout in progress", severity="warning")
            return
        summary = (
            f"{target.label}: abort rollout #{progress.id} ({progress.strategy}"
            f"{', ' + status.canary_release if status.canary_release else ''}): traffic returns "
            f"to {status.live_release or 'the baseline'}, the new release is stopped"
        )
        note = (
            "No process is running it (interrupted): shipdeck takes over and rolls back."
            if progress.interrupted
            else "The process running it is asked to stop first (up to 60 s)."
        )
        if await ask(
            self.console,
            f"Abort the rollout of {target.key}?",
            summary,
            abort_command(target.service, target.environment),
            confirm_label="Abort rollout",
            target=target,
            note=note,
        ):
            await self.console.run_op(
                f"abort {target.key}", self.console.ops.abort, target.service, target.environment
            )

    async def deploy(self, target: Target) -> None:
        status = self.console.statuses.get(target.key)
        live = status.live_release if status else None
        request = await self.console.push_screen_wait(DeployDialog(target, live))
        if request is None:
            return
        image, strategy = request
        plan = ""
        if strategy == "canary" and target.steps:
            plan = "; steps: " + " → ".join(target.steps)
        summary = (
            f"{target.label}: deploy {image} ({strategy}), replacing {live or 'nothing'}{plan}"
        )
        if not await ask(
            self.console,
            f"Deploy {image} to {target.key}?",
            summary,
            deploy_command(target.service, target.environment, image, strategy),
            confirm_label="Deploy",
            target=target,
            note="Runs as its own shipdeck process: closing the console does not stop it.",
        ):
            return
        try:
            rollout = await in_thread(
                self.console.ops.start_deploy, target.service, target.environment, image, strategy
            )
        except Exception as error:
            self.console.notify(f"deploy not started: {one_line(error)}", severity="error")
            return
        self.console.notify(f"deploy started: {rollout.description}", title=target.key)
        self.console.follow_rollout(rollout)

    async def lock(self, target: Target) -> None:
        status = self.console.statuses.get(target.key)
        lock = status.lock if status else None
        if lock is None:
            reason = await self.console.push_screen_wait(LockDialog(target.service))
            if not reason:
                return
            if await ask(
                self.console,
                f"Lock {target.service}?",
                f"{target.service}: freeze deploys in every environment: {printable(reason)}",
                lock_command(target.service, reason),
                confirm_label="Lock",
            ):
                await self.console.run_op(
                    f"lock {target.service}", self.console.ops.lock, target.service, reason
                )
            return
        force = lock.holder != self.console.ops.operator
        # The lock's text quotes its holder and reason: one line each in the dialog.
        holder = printable(lock.holder)
        summary = f"{target.service}: {printable(lock.text or 'locked by ' + holder)}"
        if force:
            summary += f"\nTake over the lock from {holder} (audited)."
        if await ask(
            self.console,
            f"Unlock {target.service}?",
            summary,
            unlock_command(target.service, force),
            confirm_label="Force unlock" if force else "Unlock",
        ):
            await self.console.run_op(
                f"unlock {target.service}", self.console.ops.unlock, target.service, force
            )


def one_line(error: BaseException | None) -> str:
    """The first line of an error, for a toast."""
    if error is None:
        return "failed"
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
