"""The protocol's calendar: phases, the assessment plan, maintenance timing and quiet hours.

Protocol facts (combined IV ketamine + TMS for treatment-resistant depression): an acute course
of 3 sessions a week for 2 weeks (6 minimum, 10-30 when needed); depression measured after each
session, at course completion and in follow-up out to 2 years (default 1, 3, 6, 12, 24 months);
maintenance every 2-4 days (default 3), adjustable per patient up to weekly or less often,
because single-dose benefit lasts 3-7 days. Patient reminders stay outside quiet hours
(default 21:00-08:00 local). Pure functions: `now` is always an argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clinical._checks import int_in_range, require_aware
from clinical.errors import InvalidInput

ACUTE_SESSIONS_PER_WEEK = 3
ACUTE_WEEKS = 2
ACUTE_MIN_SESSIONS = ACUTE_SESSIONS_PER_WEEK * ACUTE_WEEKS
ACUTE_MAX_SESSIONS = 30

DEFAULT_MAINTENANCE_INTERVAL_DAYS = 3
MIN_INTERVAL = 2
MAX_INTERVAL = 28
# A maintenance session is overdue this many days after it fell due (the escalation default).
MAINTENANCE_GRACE_DAYS = 2

FOLLOW_UP_MONTHS: tuple[int, ...] = (1, 3, 6, 12, 24)

# Post-session report: asked once the infusion's dissociation has had time to settle (it peaks
# during the infusion and resolves within hours), open for 48 hours.
REPORT_DUE_AFTER_START = timedelta(hours=2)
REPORT_WINDOW = timedelta(hours=48)
# Post-session PHQ-9: the day after the session, when ketamine's effect peaks; open 3 days.
PHQ9_DUE_AFTER_START = timedelta(days=1)
PHQ9_WINDOW = timedelta(days=3)
# Follow-up PHQ-9: open two weeks, the questionnaire's own recall period.
FOLLOW_UP_WINDOW = timedelta(days=14)
MAINTENANCE_SESSION_WINDOW = timedelta(days=MAINTENANCE_GRACE_DAYS)

QUIET_START = time(21, 0)
QUIET_END = time(8, 0)
NUDGE_AFTER = timedelta(hours=24)
MAINTENANCE_REMINDER_TIME = time(9, 0)


class Phase(StrEnum):
    """A patient's phase of treatment (stored and shown as its string)."""

    ACUTE = "acute"
    MAINTENANCE = "maintenance"
    FOLLOW_UP = "follow_up"
    COMPLETED = "completed"


ACUTE = Phase.ACUTE
MAINTENANCE = Phase.MAINTENANCE
FOLLOW_UP = Phase.FOLLOW_UP
COMPLETED = Phase.COMPLETED
PHASES: tuple[str, ...] = tuple(Phase)


class TaskKind(StrEnum):
    """What a task asks for (stored and shown as its string)."""

    PHQ9 = "phq9"
    SYMPTOM_REPORT = "symptom_report"
    ASRM = "asrm"
    MAINTENANCE_SESSION = "maintenance_session"
    # PHQ-9 item 9 asked alone, after a check-in skipped it: opened by the rules, not planned.
    PHQ9_ITEM9 = "phq9_item9"


TASK_PHQ9 = TaskKind.PHQ9
TASK_SYMPTOM_REPORT = TaskKind.SYMPTOM_REPORT
TASK_ASRM = TaskKind.ASRM
TASK_MAINTENANCE_SESSION = TaskKind.MAINTENANCE_SESSION
TASK_KINDS: tuple[str, ...] = (TASK_PHQ9, TASK_SYMPTOM_REPORT, TASK_ASRM, TASK_MAINTENANCE_SESSION)


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A recorded treatment session."""

    id: int
    started_at: datetime


@dataclass(frozen=True, slots=True)
class PlannedTask:
    """Something the patient (or clinic) is due to do; `key` is stable across re-planning."""

    key: str
    kind: str
    due_at: datetime
    expires_at: datetime
    session_id: int | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "key": self.key,
            "kind": self.kind,
            "due_at": self.due_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "session_id": self.session_id,
            "reason": self.reason,
        }


def validate_interval(x: object) -> int:
    """A maintenance interval in whole days, MIN_INTERVAL..MAX_INTERVAL."""
    if int_in_range(x, MIN_INTERVAL, MAX_INTERVAL):
        return x
    message = f"Must be a whole number of days from {MIN_INTERVAL} to {MAX_INTERVAL}."
    raise InvalidInput({"maintenance_interval_days": [message]})


def validate_phase(x: object) -> str:
    """One of PHASES."""
    if not isinstance(x, str) or x not in PHASES:
        raise InvalidInput({"phase": [f"Must be one of: {', '.join(PHASES)}."]})
    return x


def validate_acute_target_sessions(x: object) -> int:
    """A patient's acute course length: ACUTE_MIN_SESSIONS..ACUTE_MAX_SESSIONS (6-30)."""
    if int_in_range(x, ACUTE_MIN_SESSIONS, ACUTE_MAX_SESSIONS):
        return x
    message = (
        f"Must be a whole number of sessions from {ACUTE_MIN_SESSIONS} to {ACUTE_MAX_SESSIONS}."
    )
    raise InvalidInput({"acute_target_sessions": [message]})


def _validate_acute_target(x: object) -> int:
    if int_in_range(x, 1, ACUTE_MAX_SESSIONS):
        return x
    raise InvalidInput({"acute_target": [f"Must be an integer from 1 to {ACUTE_MAX_SESSIONS}."]})


def _given_sessions(sessions: Sequence[SessionRecord], now: datetime | None) -> list[SessionRecord]:
    """Sessions sorted by (started_at, id); refuses duplicate ids and naive times, drops future."""
    seen: set[int] = set()
    for session in sessions:
        require_aware("started_at", session.started_at)
        if session.id in seen:
            raise InvalidInput({"sessions": [f"Session id {session.id} appears twice."]})
        seen.add(session.id)
    kept = [s for s in sessions if now is None or s.started_at <= now]
    return sorted(kept, key=lambda s: (s.started_at, s.id))


def phase(
    *,
    enrolled_at: datetime,
    sessions: Sequence[SessionRecord],
    acute_target: int = ACUTE_MIN_SESSIONS,
    declared_phase: str | None = None,
    now: datetime,
) -> str:
    """The declared phase if given; else acute until acute_target sessions, then maintenance."""
    # To end the acute course early, callers pass acute_target = the acute sessions given.
    require_aware("enrolled_at", enrolled_at)
    require_aware("now", now)
    target = _validate_acute_target(acute_target)
    given = _given_sessions(sessions, now)
    if declared_phase is not None:
        return validate_phase(declared_phase)
    return ACUTE if len(given) < target else MAINTENANCE


def add_months(moment: datetime, months: int) -> datetime:
    """Same day and clock time `months` calendar months later, clamped to the month's end."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    next_month_first = date(year + month // 12, month % 12 + 1, 1)
    last_day = (next_month_first - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def next_maintenance_due(
    *, sessions: Sequence[SessionRecord], interval_days: int
) -> datetime | None:
    """The last recorded session plus the interval, or None before any session."""
    interval = validate_interval(interval_days)
    given = _given_sessions(sessions, None)
    if not given:
        return None
    return given[-1].started_at + timedelta(days=interval)


def _per_session_tasks(
    given: list[SessionRecord], *, acute_target: int, course_complete: bool, asrm: bool
) -> list[PlannedTask]:
    """Report and PHQ-9 (and ASRM) per session, each open until the next session's falls due."""
    tasks: list[PlannedTask] = []
    for position, session in enumerate(given, start=1):
        following = given[position] if position < len(given) else None
        sid, start = session.id, session.started_at

        report_due = start + REPORT_DUE_AFTER_START
        report_end = report_due + REPORT_WINDOW
        if following is not None:
            report_end = max(
                report_due, min(report_end, following.started_at + REPORT_DUE_AFTER_START)
            )
        tasks.append(
            PlannedTask(
                f"session:{sid}:symptom_report",
                TASK_SYMPTOM_REPORT,
                report_due,
                report_end,
                sid,
                "Post-session symptom report",
            )
        )

        phq9_due = start + PHQ9_DUE_AFTER_START
        phq9_end = phq9_due + PHQ9_WINDOW
        if following is not None:
            phq9_end = max(phq9_due, min(phq9_end, following.started_at + PHQ9_DUE_AFTER_START))
        completes = course_complete and position == acute_target
        # The completing session's PHQ-9 is the course-completion PHQ-9: one questionnaire, not two.
        prefix = "course_completion" if completes else f"session:{sid}"
        reason = "PHQ-9 at the end of the acute course" if completes else "PHQ-9 after a session"
        tasks.append(PlannedTask(f"{prefix}:phq9", TASK_PHQ9, phq9_due, phq9_end, sid, reason))
        if asrm and course_complete and position >= acute_target:
            tasks.append(
                PlannedTask(
                    f"{prefix}:asrm",
                    TASK_ASRM,
                    phq9_due,
                    phq9_end,
                    sid,
                    "Mood check (ASRM) alongside the PHQ-9",
                )
            )
    return tasks


def plan(
    *,
    enrolled_at: datetime,
    sessions: Sequence[SessionRecord],
    interval_days: int,
    bipolar: bool,
    acute_target: int = ACUTE_MIN_SESSIONS,
    phase_override: str | None = None,
    now: datetime,
) -> list[PlannedTask]:
    """Every planned task from the recorded sessions, sorted by (due_at, key); callers filter."""
    interval = validate_interval(interval_days)
    target = _validate_acute_target(acute_target)
    current = phase(
        enrolled_at=enrolled_at,
        sessions=sessions,
        acute_target=target,
        declared_phase=phase_override,
        now=now,
    )
    if current == COMPLETED:
        return []
    given = _given_sessions(sessions, now)
    # The acute phase ends when the target is reached or a clinician moves the patient on
    # (stopped early, or the target lowered): the acute sessions are those actually given.
    acute_given = min(len(given), target)
    course_complete = current != ACUTE and acute_given > 0
    tasks = _per_session_tasks(
        given, acute_target=acute_given, course_complete=course_complete, asrm=bipolar
    )
    if course_complete:
        # Completion PHQ-9 after the last acute session given; follow-ups from that day.
        anchor = given[acute_given - 1].started_at
        for months in FOLLOW_UP_MONTHS:
            due = add_months(anchor, months)
            end = due + FOLLOW_UP_WINDOW
            reason = f"{months}-month follow-up"
            tasks.append(
                PlannedTask(
                    f"followup:{months}m:phq9", TASK_PHQ9, due, end, None, reason + " PHQ-9"
                )
            )
            if bipolar:
                tasks.append(
                    PlannedTask(
                        f"followup:{months}m:asrm", TASK_ASRM, due, end, None, reason + " ASRM"
                    )
                )
    if current == MAINTENANCE and given:
        due = given[-1].started_at + timedelta(days=interval)
        tasks.append(
            PlannedTask(
                "maintenance:next",
                TASK_MAINTENANCE_SESSION,
                due,
                due + MAINTENANCE_SESSION_WINDOW,
                None,
                f"Maintenance session {interval} days after the last one",
            )
        )
    return sorted(tasks, key=lambda t: (t.due_at, t.key))


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInput({"timezone": [f"Unknown time zone {tz!r}."]}) from None


def _check_wall_time(name: str, value: time) -> None:
    if value.tzinfo is not None:
        raise ValueError(f"{name} must be a local wall-clock time without tzinfo.")


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    """Naive local wall-clock reading of an instant."""
    return moment.astimezone(zone).replace(tzinfo=None)


def _first_offset_change(lo: datetime, hi: datetime, zone: ZoneInfo) -> datetime:
    """First whole second in (lo, hi] whose UTC offset differs from lo's (hi's offset must)."""
    before = lo.astimezone(zone).utcoffset()
    low, high = int(lo.timestamp()), int(hi.timestamp())
    while high - low > 1:
        mid = (low + high) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(zone).utcoffset() == before:
            low = mid
        else:
            high = mid
    return datetime.fromtimestamp(high, UTC)


def _wall_instants(day: date, wall: time, zone: ZoneInfo) -> list[datetime]:
    """UTC instants at which the local clock reads `wall` on `day`, earliest first."""
    # A repeated (fall-back) time gives two instants; a skipped (spring-forward) time gives the
    # instant the clock jumps past it.
    naive = datetime.combine(day, wall)
    candidates = [naive.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)]
    real = sorted({c for c in candidates if _wall(c, zone) == naive})
    if real:
        return real
    return [_first_offset_change(min(candidates), max(candidates), zone)]


def _quiet(local: time, quiet_start: time, quiet_end: time) -> bool:
    if quiet_start == quiet_end:
        return False
    if quiet_start < quiet_end:
        return quiet_start <= local < quiet_end
    return local >= quiet_start or local < quiet_end


def in_quiet_hours(*, at: datetime, tz: str, quiet_start: time, quiet_end: time) -> bool:
    """True when `at` falls in [quiet_start, quiet_end) local time; the window may wrap midnight."""
    require_aware("at", at)
    _check_wall_time("quiet_start", quiet_start)
    _check_wall_time("quiet_end", quiet_end)
    return _quiet(_wall(at, _zone(tz)).time(), quiet_start, quiet_end)


def local_send_time(*, due_at: datetime, tz: str, quiet_start: time, quiet_end: time) -> datetime:
    """The first instant at or after due_at outside the patient's quiet hours, in UTC."""
    require_aware("due_at", due_at)
    _check_wall_time("quiet_start", quiet_start)
    _check_wall_time("quiet_end", quiet_end)
    zone = _zone(tz)

    def quiet(moment: datetime) -> bool:
        return _quiet(_wall(moment, zone).time(), quiet_start, quiet_end)

    start = due_at.astimezone(UTC)
    if not quiet(start):
        return start
    today = _wall(start, zone).date()
    ends = [
        instant
        for offset in (-1, 0, 1, 2)
        for instant in _wall_instants(today + timedelta(days=offset), quiet_end, zone)
        if instant >= start and not quiet(instant)
    ]
    best = min(ends)
    # A fall-back can also end quiet hours early, by turning the clock back out of the window.
    if start.astimezone(zone).utcoffset() != best.astimezone(zone).utcoffset():
        change = _first_offset_change(start, best, zone)
        if not quiet(change):
            best = min(best, change)
    return best


def maintenance_reminder_at(
    *, due_date_local: date, tz: str, hour: time = MAINTENANCE_REMINDER_TIME
) -> datetime:
    """`hour` local time on the due date, in UTC (the first such instant; DST-safe)."""
    _check_wall_time("hour", hour)
    return _wall_instants(due_date_local, hour, _zone(tz))[0]
