"""How values read on a page: local times, ages and labels (presentation only)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

# Words a label spells as clinicians write them.
SPELLED = {"phq9": "PHQ-9", "asrm": "ASRM", "tms": "TMS", "checkin": "check-in", "spo2": "SpO2"}


def label(word: str | None) -> str:
    """``moderately_severe`` → ``Moderately severe``; ``no_phq9`` → ``No PHQ-9``."""
    if not word:
        return ""
    text = " ".join(SPELLED.get(part, part) for part in word.split("_"))
    return text[:1].upper() + text[1:]


def age(delta: timedelta) -> str:
    """A short, human age: ``45 s``, ``12 min``, ``3 h 5 min``, ``2 d 4 h``."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def local(moment: datetime | None, tz: str | ZoneInfo) -> str:
    """A moment in the given zone, e.g. ``2026-11-02 09:00 EST``."""
    if moment is None:
        return "—"
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def local_date(moment: datetime, tz: str | ZoneInfo) -> str:
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    return moment.astimezone(zone).strftime("%Y-%m-%d")


def signed(value: int | float | None, suffix: str = "") -> str:
    """``-7`` / ``+2`` / ``0`` (a change), or a dash when there is none."""
    if value is None:
        return "—"
    if isinstance(value, float):
        value = round(value)
    return f"{value:+d}{suffix}" if value else f"0{suffix}"
