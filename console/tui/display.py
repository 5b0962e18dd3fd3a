"""How the console words and draws things: bars, ages, health, toasts. Textual-free.

Pure functions of the data ``console.tui.data`` reads, so they are unit-tested
without a terminal and shared by every screen (one wording everywhere).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from console.core.status import LastDeploy, ServiceStatus
from console.core.store import Outcome
from console.tui.data import Target

PERCENT_STEPS: tuple[int, ...] = (0, 1, 5, 10, 25, 50, 100)
BAR_BLOCKS = " ▏▎▍▌▋▊▉█"
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"


@dataclass
class Freshness:
    """When a data source last answered, and why it did not since: never hide staleness."""

    name: str
    last_ok: datetime | None = None
    error: str | None = None

    def ok(self, now: datetime) -> None:
        self.last_ok = now
        self.error = None

    def failed(self, error: str) -> None:
        self.error = error or "failed"

    @property
    def healthy(self) -> bool:
        return self.error is None and self.last_ok is not None

    def describe(
        self,
        tz: tzinfo | None = None,
        now: datetime | None = None,
        max_age_s: float | None = None,
    ) -> str:
        """``live``, ``stale since HH:MM:SS: why`` or ``unreachable: why`` (never answered).

        With ``now`` and ``max_age_s`` a source that has not answered for too long
        is stale even before its request times out (a hung host, a slow store).
        """
        if self.error is None:
            if self.last_ok is None:
                return "loading…"
            if now is not None and max_age_s is not None:
                silent_s = (now - self.last_ok).total_seconds()
                if silent_s > max_age_s:
                    return (
                        f"stale since {clock_time(self.last_ok, tz)}: no answer for {silent_s:.0f}s"
                    )
            return "live"
        if self.last_ok is None:
            return f"unreachable: {self.error}"
        return f"stale since {clock_time(self.last_ok, tz)}: {self.error}"

    def is_stale(self, now: datetime, max_age_s: float) -> bool:
        if self.error is not None or self.last_ok is None:
            return self.error is not None
        return (now - self.last_ok).total_seconds() > max_age_s


@dataclass(frozen=True)
class Notice:
    """A toast the console raises because something changed (here or in another process)."""

    title: str
    message: str
    severity: str = "information"  # information | warning | error
    bell: bool = False


def next_percent(current: int, direction: int) -> int:
    """The next rollout step up (+1) or down (-1) among 0, 1, 5, 10, 25, 50, 100."""
    if direction > 0:
        return next((p for p in PERCENT_STEPS if p > current), PERCENT_STEPS[-1])
    return next((p for p in reversed(PERCENT_STEPS) if p < current), PERCENT_STEPS[0])


def bar(percent: float | None, width: int = 10) -> str:
    """A fixed-width bar with eighth-block precision (visible without colour)."""
    value = max(0.0, min(100.0, float(percent or 0)))
    eighths = round(value / 100 * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (BAR_BLOCKS[part] if part and full < width else "")
    return text.ljust(width, "░")


def sparkline(values: Sequence[float], width: int, low: float, high: float) -> str:
    """One row of block characters on a shared scale; NaN (no sample) is a space."""
    if width <= 0:
        return ""
    points = list(values)[-width:]
    span = high - low
    chars = []
    for value in points:
        if value is None or math.isnan(value):
            chars.append(" ")
            continue
        level = 0 if span <= 0 else int((value - low) / span * (len(SPARK_BLOCKS) - 1) + 0.5)
        chars.append(SPARK_BLOCKS[max(0, min(len(SPARK_BLOCKS) - 1, level))])
    return "".join(chars).rjust(width)


def series_range(*series: Sequence[float]) -> tuple[float, float]:
    """min and max over every finite point of all series (a shared scale)."""
    finite = [v for s in series for v in s if v is not None and not math.isnan(v)]
    if not finite:
        return 0.0, 0.0
    low, high = min(finite), max(finite)
    return (min(low, 0.0) if low >= 0 else low), high


def age(seconds: float | None) -> str:
    """Coarse, calm ages: ``just now``, ``4m``, ``3h``, ``2d`` (changes rarely, repaints rarely)."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "running"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def time_left(ends_at: datetime | None, now: datetime) -> str | None:
    if ends_at is None:
        return None
    left = max(0, int((ends_at - now).total_seconds()))
    minutes, secs = divmod(left, 60)
    return f"{minutes}m {secs:02d}s left" if minutes else f"{secs}s left"


def clock_time(moment: datetime, tz: tzinfo | None = None) -> str:
    """HH:MM:SS in the console's time zone (local by default)."""
    return moment.astimezone(tz).strftime("%H:%M:%S")


def stamp(moment: datetime | None, tz: tzinfo | None = None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def format_value(value: float | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return f"{value:.3g}"


def format_ratio(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}×"


# -- overview: what to show per row, and what changed ----------------------------------------


def health_text(status: ServiceStatus, target: Target | None = None) -> str:
    """``2/2 up``, ``1/2 up · web-2 unreachable``, ``MIXED v41,v42``, ``probing…``."""
    expected = len(target.hosts) if target else len(status.hosts)
    if not status.hosts:
        return "probing…" if expected else "no hosts"
    reachable = [h for h, v in status.hosts.items() if v.reachable]
    down = [h for h, v in status.hosts.items() if not v.reachable]
    if status.mixed_versions:
        versions = sorted({r for v in status.hosts.values() for r in v.running})
        return "MIXED " + ",".join(versions)
    up = [h for h in reachable if status.hosts[h].running]
    unhealthy = [
        h for h in reachable if any(c.health == "unhealthy" for c in status.hosts[h].containers)
    ]
    text = f"{len(up)}/{expected or len(status.hosts)} up"
    if unhealthy:
        text += f" · {len(unhealthy)} unhealthy"
    if down:
        text += f" · {len(down)} down"
    return text


def rollout_text(status: ServiceStatus, steps: int = 0) -> str:
    progress = status.in_progress
    if not progress:
        if status.canary_release:
            return f"canary {status.canary_release} {status.canary_weight_pct}%"
        return "-"
    if progress.interrupted:
        return f"{progress.strategy} INTERRUPTED"
    weight = progress.weight_pct
    if progress.is_canary:
        index = progress.step_index
        step = ""
        if index is not None:
            step = f"{int(index) + 1}/{steps} " if steps else f"step {int(index) + 1} "
        return f"canary {step}{bar(weight or 0, 5)} {int(weight or 0)}%"
    return f"{progress.kind}: {progress.step or 'starting'}"


def last_text(status: ServiceStatus) -> str:
    last = status.last_deploy
    if not last:
        return "-"
    kind = "" if last.kind == "deploy" else f"{last.kind} "
    if last.outcome == Outcome.IN_PROGRESS:
        return f"{kind}running"
    outcome = str(last.outcome).replace("_", " ")
    return f"{kind}{outcome} {age(last.age_s)}"


def diff_notices(old: Sequence[ServiceStatus] | None, new: Sequence[ServiceStatus]) -> list[Notice]:
    """Toasts for what changed between two polls, whoever caused it.

    Nothing on the first poll (the console just opened). A deploy that ended
    ``rolled_back`` was rolled back automatically (judge or verification): it
    rings the bell.
    """
    if old is None:
        return []
    before = {(s.service, s.environment): s for s in old}
    notices: list[Notice] = []
    for status in new:
        prev = before.get((status.service, status.environment))
        if prev is None:
            continue
        where = f"{status.service}/{status.environment}"
        progress, was = status.in_progress, prev.in_progress
        if progress and (not was or was.id != progress.id):
            notices.append(
                Notice(
                    where,
                    f"{progress.kind} started by {progress.operator} ({progress.strategy})",
                )
            )
        if progress and was and was.id == progress.id:
            old_v = _verdict_key(was.verdicts)
            new_v = _verdict_key(progress.verdicts)
            if new_v and new_v != old_v:
                failing = [f"{n} {v}" for n, v in new_v if v != "pass"]
                text = "judge: " + (", ".join(failing) if failing else "every metric passes")
                severity = "warning" if any(v == "fail" for _, v in new_v) else "information"
                notices.append(Notice(where, text, severity))
        last, last_before = status.last_deploy, prev.last_deploy
        finished = (
            last
            and last.outcome != Outcome.IN_PROGRESS
            and (
                not last_before or last_before.id != last.id or last_before.outcome != last.outcome
            )
        )
        if finished and last:
            notices.append(_outcome_notice(where, last))
    return notices


def _verdict_key(verdicts: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    return tuple(
        (str(v.get("name")), str(v.get("verdict"))) for v in verdicts if isinstance(v, Mapping)
    )


def _outcome_notice(where: str, last: LastDeploy) -> Notice:
    kind, outcome, reason = last.kind, last.outcome, last.reason
    text = f"{kind} {outcome}" + (f": {reason}" if reason else "")
    if outcome == Outcome.SUCCEEDED:
        return Notice(where, text, "information")
    if outcome == Outcome.ROLLED_BACK:
        return Notice(where, "automatic rollback — " + text, "error", bell=True)
    if outcome == Outcome.ABORTED:
        return Notice(where, text, "warning")
    return Notice(where, text, "error")
