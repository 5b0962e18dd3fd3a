"""Flag lifecycle: creating a flag with a cleanup date, and finding the ones to remove.

The seed's rule is that a flag left at 100% for more than two weeks must be
removed: it is dead code with a runtime switch attached. Stale detection names
each stale flag with the reason, so the report is actionable rather than a list.
Time is always passed in (``now``), so tests freeze it and the CLI uses its clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from console.core.errors import InvalidInput
from console.flags.model import (
    Flag,
    FlagSet,
    require_key,
    require_type,
)

FULLY_ON_DAYS = 14
# Unleash's expected lifetimes; kill switches, permissions and operational flags are
# long-lived by design and never "expire" (nor go stale by being fully on).
EXPECTED_LIFETIME_DAYS = {"release": 40, "experiment": 40}
DEFAULT_CLEANUP_DAYS = {"release": 30, "experiment": 40}
TEMPORARY_TYPES = ("release", "experiment")

FULLY_ON = "FULLY_ON"
PAST_CLEANUP_BY = "PAST_CLEANUP_BY"
PAST_EXPECTED_LIFETIME = "PAST_EXPECTED_LIFETIME"


@dataclass(frozen=True, slots=True)
class StaleFinding:
    """One reason one flag should be cleaned up."""

    key: str
    code: str
    message: str
    owner: str
    cleanup_ticket: str

    def to_json(self) -> dict[str, str]:
        return {
            "key": self.key,
            "code": self.code,
            "message": self.message,
            "owner": self.owner,
            "cleanup_ticket": self.cleanup_ticket,
        }


def default_cleanup_by(flag_type: str, created: date) -> date | None:
    """Release flags: created + 30 days; experiments: + 40; permanent types: none."""
    days = DEFAULT_CLEANUP_DAYS.get(flag_type)
    return created + timedelta(days=days) if days is not None else None


def new_flag(
    key: str,
    *,
    owner: str,
    flag_type: str,
    created: date,
    description: str = "",
    cleanup_by: date | None = None,
    cleanup_ticket: str = "",
) -> Flag:
    """A new flag: off in every environment, with an owner and (if temporary) a cleanup date."""
    require_key(key)
    require_type(flag_type)
    if not owner or not owner.strip():
        raise InvalidInput(f"flag {key!r}: an owner is required")
    return Flag(
        key=key,
        owner=owner.strip(),
        type=flag_type,
        created=created,
        description=description,
        cleanup_by=cleanup_by or default_cleanup_by(flag_type, created),
        cleanup_ticket=cleanup_ticket,
    )


def cleanup_ticket_text(flag: Flag, flags_path: str = "config/flags.toml") -> str:
    """A ready-to-file ticket for removing the flag, printed when it is created."""
    due = flag.cleanup_by.isoformat() if flag.cleanup_by else "when the flag is no longer needed"
    return "\n".join(
        [
            f"Title: Remove feature flag {flag.key}",
            "",
            f"Owner: {flag.owner}",
            f"Type: {flag.type}",
            f"Created: {flag.created.isoformat()}",
            f"Clean up by: {due}",
            f"Description: {flag.description or '(none)'}",
            "",
            "Steps:",
            f"  1. Roll {flag.key} to 100% in production and leave it for a few days.",
            f"  2. `shipdeck flags refs` — remove the dead branch at every reference to {flag.key}.",
            "  3. Deploy the code without the flag.",
            f"  4. `shipdeck flags delete {flag.key}` (removes it from {flags_path}).",
            f"  5. Record this ticket: `shipdeck flags` keeps it in {flag.key}.cleanup_ticket.",
        ]
    )


def find_stale(
    flags: FlagSet,
    now: datetime,
    *,
    environment: str = "production",
    fully_on_days: int = FULLY_ON_DAYS,
) -> list[StaleFinding]:
    """Every reason every flag is stale, sorted by key then reason.

    * ``FULLY_ON``: a release/experiment flag fully on (enabled at 100%, no rules,
      not killed) in ``environment`` for more than ``fully_on_days`` days;
    * ``PAST_CLEANUP_BY``: today is after its ``cleanup_by`` date;
    * ``PAST_EXPECTED_LIFETIME``: a release/experiment flag older than its type's
      expected lifetime (40 days).
    """
    today = now.date()
    findings: list[StaleFinding] = []
    for flag in flags:

        def found(code: str, message: str, flag: Flag = flag) -> None:
            findings.append(StaleFinding(flag.key, code, message, flag.owner, flag.cleanup_ticket))

        state = flag.env(environment)
        if flag.type in TEMPORARY_TYPES and flag.enabled and state.fully_on and not flag.rules:
            since = state.changed_at or flag.last_changed_at
            since_day = since.date() if since is not None else flag.created
            days = (today - since_day).days
            if days > fully_on_days:
                found(
                    FULLY_ON,
                    f"at 100% in {environment} since {since_day.isoformat()} "
                    f"({days} days > {fully_on_days}): remove the flag and its dead branch",
                )
        if flag.cleanup_by is not None and today > flag.cleanup_by:
            days = (today - flag.cleanup_by).days
            found(
                PAST_CLEANUP_BY,
                f"past its cleanup_by date {flag.cleanup_by.isoformat()} by {days} days",
            )
        lifetime = EXPECTED_LIFETIME_DAYS.get(flag.type)
        age = (today - flag.created).days
        if lifetime is not None and age > lifetime:
            found(
                PAST_EXPECTED_LIFETIME,
                f"{flag.type} flag is {age} days old (expected lifetime {lifetime} days)",
            )
    return sorted(findings, key=lambda f: (f.key, f.code))
