"""Number formatting for explanation lines (one place, so they agree)."""

from __future__ import annotations

import math


def duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    return f"{secs}s"


def percent(part: float, whole: float) -> str:
    if whole <= 0:
        return "n/a"
    value = 100 * part / whole
    return f"{value:.2f}%" if value < 10 else f"{value:.1f}%"


def count(value: float) -> str:
    return f"{value:.0f}" if math.isclose(value, round(value)) else f"{value:.1f}"


def ratio(value: float) -> str:
    if math.isinf(value):
        return "∞"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def level(alpha: float) -> str:
    """Confidence level of an anytime bound, e.g. 0.025 → '97.5%'."""
    return f"{100 * (1 - alpha):.2f}".rstrip("0").rstrip(".") + "%"


def seconds_short(value_s: float | None) -> str:
    if value_s is None:
        return "?"
    ms = value_s * 1000
    return f"{ms:.0f}" if ms >= 10 else f"{ms:.1f}"
