"""Handing an interrupted rollout to the process that resumes it.

Blue-green and canary deploys both persist every step, so ``deploy --resume``
can continue one whose process died. Both take it over the same way, here: a
runner that still heartbeats is not interrupted (two runners of one rollout
would fight over the load balancer), and a dead runner's lease is released
with an audit record before the resumer takes the lock as usual.
"""

from __future__ import annotations

from console.core.errors import Blocked
from console.core.locking import release_stale
from console.core.ops.context import OpContext
from console.core.store.model import Deployment


def claim_interrupted(ctx: OpContext, service: str, environment: str) -> Deployment:
    """The deployment to resume; its dead runner's lease is released (audited)."""
    running = ctx.store.in_progress(service, environment)
    if not running:
        raise Blocked(f"{service}/{environment}: no interrupted deployment to resume")
    deployment = running[-1]
    now = ctx.clock.now()
    lock = ctx.store.lock(service)
    if lock is None:
        return deployment
    if not lock.is_stale(now):
        raise Blocked(
            f"{service}: deployment #{deployment.id} is still running ({lock.holder} holds a live lock);"
            f" if its process died, retry once the {lock.lease_s:g} s lease lapses"
        )
    release_stale(
        ctx.store, lock, ctx.operator, f"resume of deployment #{deployment.id}", ctx.clock
    )
    return deployment
