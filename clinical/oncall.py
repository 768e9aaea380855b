"""Who is on call: rotations with a local hand-off time, and overrides. Pure functions.

A rotation hands off every ``length_days`` days at ``handoff`` o'clock in the clinic's own
time zone, starting on ``starts_on`` with the first member. Hand-offs are computed on the
local calendar, not by adding 24-hour days in UTC, so a hand-off at 08:00 stays at 08:00
local across a daylight-saving change (the shift that spans the change is an hour shorter
or longer in real time). An override puts another clinician on call for [start, end) and
wins over the rotation for that tier. No clock is read here: ``at`` is always passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "OnCall",
    "Override",
    "Rotation",
    "Schedule",
    "handoff_instant",
    "on_call",
    "on_call_now",
    "overlapping_overrides",
]


@dataclass(frozen=True, slots=True)
class Rotation:
    """One tier's rotation: members in order, who hand off at a local time every N days."""

    members: tuple[int, ...]
    handoff: time
    length_days: int
    starts_on: date

    def __post_init__(self) -> None:
        # Validated at the edge already; a bad value here is a programming error.
        if not self.members:
            raise ValueError("a rotation needs at least one member")
        if self.length_days < 1:
            raise ValueError("length_days must be at least 1")


@dataclass(frozen=True, slots=True)
class Override:
    """``clinician_id`` is on call for ``tier`` from ``start`` (inclusive) to ``end``."""

    tier: int
    clinician_id: int
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Schedule:
    """A clinic's rotations by tier number, and its overrides."""

    timezone: str
    rotations: Mapping[int, Rotation]
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True, slots=True)
class OnCall:
    """Who is on call for a tier, and ``until`` (UTC): the next hand-off or override boundary.

    The same person may well be on call after ``until`` too (an override naming the
    clinician whose turn it is, a one-member rotation); it is when to ask again.
    """

    clinician_id: int
    until: datetime


def handoff_instant(day: date, handoff: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of the hand-off on local ``day``.

    A wall time skipped by a spring-forward change (02:30 in New York on that Sunday) is
    read with the offset before the change, i.e. it falls one hour later on the clock; a
    wall time that occurs twice in the autumn means its first occurrence (fold=0).
    """
    return datetime.combine(day, handoff, tzinfo=tz).astimezone(UTC)


def _rotation_on_call(rotation: Rotation, at: datetime, tz: ZoneInfo) -> OnCall | None:
    local_day = at.astimezone(tz).date()
    # The shift in force began at the latest hand-off at or before `at`.
    if at < handoff_instant(local_day, rotation.handoff, tz):
        local_day -= timedelta(days=1)
    days = (local_day - rotation.starts_on).days
    if days < 0:
        return None  # the rotation has not started yet
    shift = days // rotation.length_days
    member = rotation.members[shift % len(rotation.members)]
    next_handoff = rotation.starts_on + timedelta(days=(shift + 1) * rotation.length_days)
    return OnCall(member, handoff_instant(next_handoff, rotation.handoff, tz))


def on_call(schedule: Schedule, *, tier: int, at: datetime) -> OnCall | None:
    """Who is on call for ``tier`` at the instant ``at``; None when the schedule names nobody."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    at = at.astimezone(UTC)
    tz = ZoneInfo(schedule.timezone)
    overrides = sorted(
        (o for o in schedule.overrides if o.tier == tier), key=lambda o: (o.start, o.end)
    )
    for override in overrides:
        if override.start <= at < override.end:
            return OnCall(override.clinician_id, override.end.astimezone(UTC))
    rotation = schedule.rotations.get(tier)
    base = _rotation_on_call(rotation, at, tz) if rotation is not None else None
    if base is None:
        return None
    # An override that starts before the next hand-off ends this person's turn early.
    upcoming = [o.start for o in overrides if at < o.start < base.until]
    if upcoming:
        return OnCall(base.clinician_id, min(upcoming).astimezone(UTC))
    return base


def on_call_now(schedule: Schedule, *, at: datetime) -> dict[int, OnCall]:
    """Each tier the schedule covers with who is on call at ``at`` (tiers with nobody left out)."""
    tiers = set(schedule.rotations) | {o.tier for o in schedule.overrides}
    found: dict[int, OnCall] = {}
    for tier in sorted(tiers):
        person = on_call(schedule, tier=tier, at=at)
        if person is not None:
            found[tier] = person
    return found


def overlapping_overrides(overrides: Sequence[Override]) -> list[tuple[int, int]]:
    """Index pairs of overrides of the same tier whose periods overlap (empty when none)."""
    pairs: list[tuple[int, int]] = []
    for i, first in enumerate(overrides):
        for j in range(i + 1, len(overrides)):
            second = overrides[j]
            if first.tier == second.tier and first.start < second.end and second.start < first.end:
                pairs.append((i, j))
    return pairs


def members(schedule: Schedule) -> Iterable[int]:
    """Every clinician the schedule names (rotations and overrides)."""
    for rotation in schedule.rotations.values():
        yield from rotation.members
    for override in schedule.overrides:
        yield override.clinician_id
