"""The changing actions as flows: gather what is needed, confirm, then run the operation.

Each flow runs in a worker (so it may wait on a modal with ``push_screen_wait``)
and ends in one ``ConsoleOps`` call made by ``ShipdeckApp.run_op`` — or, for a
deploy, a detached ``shipdeck deploy`` process the console then follows.
The texts name exactly what will happen and the equivalent headless command.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from console.core.text import printable
from console.tui.background import in_thread
from console.tui.data import Target
from console.tui.dialogs.confirm import ConfirmationModal
from console.tui.dialogs.forms import DeployDialog, LockDialog, ReleasePicker
from console.tui.ops import (
    Rollout,
    abort_command,
    deploy_command,
    lock_command,
    promote_command,
    rollback_command,
    unlock_command,
)

if TYPE_CHECKING:
    from console.tui.app import ShipdeckApp

    _Base = ShipdeckApp
else:
    _Base = object


class ActionFlows(_Base):
    """R, P, A, D, L on the selected service: mixed into the app."""

    def action_rollback(self) -> None:
        if self.selected:
            self.run_worker(self._rollback_flow(self.selected), group="flow")

    def action_promote(self) -> None:
        if self.selected:
            self.run_worker(self._promote_flow(self.selected), group="flow")

    def action_abort(self) -> None:
        if self.selected:
            self.run_worker(self._abort_flow(self.selected), group="flow")

    def action_deploy(self) -> None:
        if self.selected:
            self.run_worker(self._deploy_flow(self.selected), group="flow")

    def action_lock(self) -> None:
        if self.selected:
            self.run_worker(self._lock_flow(self.selected), group="flow")

    # -- flows: gather, confirm, run (each runs in a worker, so it may wait on a modal) ----

    async def confirm(
        self,
        title: str,
        summary: str,
        command: str | None,
        *,
        confirm_label: str,
        target: Target | None = None,
        note: str | None = None,
    ) -> bool:
        protected = target is not None and target.protected
        return bool(
            await self.push_screen_wait(
                ConfirmationModal(
                    title,
                    summary,
                    command,
                    confirm_label=confirm_label,
                    require_typing=target.service if protected and target else None,
                    note=note,
                )
            )
        )

    async def _rollback_flow(self, target: Target) -> None:
        try:
            choices = await in_thread(self.data.releases, target.service, target.environment)
        except Exception as error:
            self.notify(f"cannot list releases: {one_line(error)}", severity="error")
            return
        if not choices:
            self.notify(f"{target.key}: no retained release to roll back to", severity="warning")
            return
        choice = await self.push_screen_wait(ReleasePicker(target, choices, self.data.clock.now()))
        if choice is None:
            return
        status = self.statuses.get(target.key)
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
        if await self.confirm(
            f"Roll back {target.key}?",
            printable(summary),
            rollback_command(target.service, target.environment, choice.name),
            confirm_label="Roll back",
            target=target,
        ):
            await self.run_op(
                f"rollback {target.key} → {choice.name}",
                self.ops.rollback,
                target.service,
                target.environment,
                choice.name,
            )

    async def _promote_flow(self, target: Target) -> None:
        status = self.statuses.get(target.key)
        progress = status.in_progress if status else None
        if not progress or not status:
            self.notify(f"{target.key}: no canary in progress", severity="warning")
            return
        step = progress.step_index
        where = f"step {int(step) + 1}" if step is not None else "its current step"
        summary = (
            f"{target.label}: promote canary {status.canary_release or '?'} now: skip the "
            f"remaining steps (at {where}, {progress.weight_pct or 0}%) and go to 100%; "
            f"baseline {status.live_release or '-'} stays warm"
        )
        if await self.confirm(
            f"Promote {target.key}?",
            summary,
            promote_command(target.service, target.environment),
            confirm_label="Promote",
            target=target,
        ):
            await self.run_op(
                f"promote {target.key}", self.ops.promote, target.service, target.environment
            )

    async def _abort_flow(self, target: Target) -> None:
        status = self.statuses.get(target.key)
        progress = status.in_progress if status else None
        if not progress or not status:
            self.notify(f"{target.key}: no rollout in progress", severity="warning")
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
        if await self.confirm(
            f"Abort the rollout of {target.key}?",
            summary,
            abort_command(target.service, target.environment),
            confirm_label="Abort rollout",
            target=target,
            note=note,
        ):
            await self.run_op(
                f"abort {target.key}", self.ops.abort, target.service, target.environment
            )

    async def _deploy_flow(self, target: Target) -> None:
        status = self.statuses.get(target.key)
        live = status.live_release if status else None
        request = await self.push_screen_wait(DeployDialog(target, live))
        if request is None:
            return
        image, strategy = request
        plan = ""
        if strategy == "canary" and target.steps:
            plan = "; steps: " + " → ".join(target.steps)
        summary = (
            f"{target.label}: deploy {image} ({strategy}), replacing {live or 'nothing'}{plan}"
        )
        if not await self.confirm(
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
                self.ops.start_deploy, target.service, target.environment, image, strategy
            )
        except Exception as error:
            self.notify(f"deploy not started: {one_line(error)}", severity="error")
            return
        self.rollouts.append(rollout)
        self.notify(f"deploy started: {rollout.description}", title=target.key)
        self.run_worker(self._watch_rollout(rollout), group="rollouts")
        self.publish()

    async def _watch_rollout(self, rollout: Rollout) -> None:
        while (code := rollout.poll()) is None:
            await asyncio.sleep(1.0)
        self.rollouts = [r for r in self.rollouts if r is not rollout]
        outcome = {0: "succeeded", 1: "failed and was rolled back", 3: "was blocked"}.get(
            code, f"exited with code {code}"
        )
        where = f" (log: {rollout.log_path})" if rollout.log_path and code else ""
        self.notify(
            f"{rollout.description} {outcome}{where}",
            severity="information" if code == 0 else "error",
            timeout=12,
        )
        self.publish()

    async def _lock_flow(self, target: Target) -> None:
        status = self.statuses.get(target.key)
        lock = status.lock if status else None
        if lock is None:
            reason = await self.push_screen_wait(LockDialog(target.service))
            if not reason:
                return
            if await self.confirm(
                f"Lock {target.service}?",
                f"{target.service}: freeze deploys in every environment: {printable(reason)}",
                lock_command(target.service, reason),
                confirm_label="Lock",
            ):
                await self.run_op(f"lock {target.service}", self.ops.lock, target.service, reason)
            return
        force = lock.holder != self.ops.operator
        # The lock's text quotes its holder and reason: one line each in the dialog.
        holder = printable(lock.holder)
        summary = f"{target.service}: {printable(lock.text or 'locked by ' + holder)}"
        if force:
            summary += f"\nTake over the lock from {holder} (audited)."
        if await self.confirm(
            f"Unlock {target.service}?",
            summary,
            unlock_command(target.service, force),
            confirm_label="Force unlock" if force else "Unlock",
        ):
            await self.run_op(f"unlock {target.service}", self.ops.unlock, target.service, force)


def one_line(error: BaseException | None) -> str:
    """The first line of an error, for a toast."""
    if error is None:
        return "failed"
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
