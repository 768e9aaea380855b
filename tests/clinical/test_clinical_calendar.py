"""Protocol calendar: phases, the plan, maintenance timing, quiet hours and DST."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinical import calendar as cal
from clinical.calendar import (
    PlannedTask,
    SessionRecord,
    add_months,
    in_quiet_hours,
    local_send_time,
    maintenance_reminder_at,
    next_maintenance_due,
    phase,
    plan,
    validate_interval,
)
from clinical.errors import InvalidInput

ENROLLED = datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
START = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)  # a Monday
LATER = datetime(2026, 6, 1, tzinfo=UTC)
NIGHT = (time(21, 0), time(8, 0))


def acute_sessions(count: int, *, start: datetime = START) -> list[SessionRecord]:
    """Mon/Wed/Fri sessions with ids 101, 102, ..."""
    offsets = [0, 2, 4, 7, 9, 11, 14, 16, 18, 21, 23, 25]
    return [
        SessionRecord(id=101 + i, started_at=start + timedelta(days=offsets[i]))
        for i in range(count)
    ]


def by_key(tasks: list[PlannedTask]) -> dict[str, PlannedTask]:
    return {t.key: t for t in tasks}


def make_plan(
    sessions: list[SessionRecord], *, bipolar: bool = False, now: datetime = LATER, **extra: object
) -> list[PlannedTask]:
    return plan(
        enrolled_at=ENROLLED,
        sessions=sessions,
        interval_days=extra.pop("interval_days", 3),  # type: ignore[arg-type]
        bipolar=bipolar,
        now=now,
        **extra,  # type: ignore[arg-type]
    )


def test_protocol_constants() -> None:
    assert cal.ACUTE_SESSIONS_PER_WEEK * cal.ACUTE_WEEKS == cal.ACUTE_MIN_SESSIONS == 6
    assert cal.ACUTE_MAX_SESSIONS == 30
    assert (cal.DEFAULT_MAINTENANCE_INTERVAL_DAYS, cal.MIN_INTERVAL, cal.MAX_INTERVAL) == (3, 2, 28)
    assert cal.FOLLOW_UP_MONTHS == (1, 3, 6, 12, 24)
    assert (cal.QUIET_START, cal.QUIET_END) == NIGHT
    assert cal.NUDGE_AFTER.total_seconds() == 24 * 3600


@pytest.mark.parametrize("value", [2, 3, 7, 28])
def test_valid_intervals(value: int) -> None:
    assert validate_interval(value) == value


@pytest.mark.parametrize("value", [1, 29, 0, -3, True, 3.0, "3", None])
def test_invalid_intervals(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_interval(value)
    assert list(caught.value.errors) == ["maintenance_interval_days"]


@pytest.mark.parametrize(
    ("count", "target", "declared", "expected"),
    [
        (0, 6, None, "acute"),
        (5, 6, None, "acute"),
        (6, 6, None, "maintenance"),
        (9, 6, None, "maintenance"),
        (6, 10, None, "acute"),
        (10, 10, None, "maintenance"),
        (8, 6, "acute", "acute"),
        (3, 6, "maintenance", "maintenance"),
        (7, 6, "follow_up", "follow_up"),
        (7, 6, "completed", "completed"),
    ],
)
def test_phase(count: int, target: int, declared: str | None, expected: str) -> None:
    got = phase(
        enrolled_at=ENROLLED,
        sessions=acute_sessions(count),
        acute_target=target,
        declared_phase=declared,
        now=LATER,
    )
    assert got == expected


def test_phase_ignores_future_sessions() -> None:
    sessions = acute_sessions(6)
    assert phase(enrolled_at=ENROLLED, sessions=sessions, now=sessions[4].started_at) == "acute"


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"declared_phase": "remission"}, "phase"),
        ({"acute_target": 0}, "acute_target"),
        ({"acute_target": 31}, "acute_target"),
        ({"acute_target": True}, "acute_target"),
    ],
)
def test_phase_refuses_bad_values(kwargs: dict[str, object], path: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        phase(enrolled_at=ENROLLED, sessions=[], now=LATER, **kwargs)  # type: ignore[arg-type]
    assert list(caught.value.errors) == [path]


def test_acute_plan_has_a_report_and_phq9_per_session() -> None:
    sessions = acute_sessions(3)
    tasks = make_plan(sessions)
    assert [t.key for t in tasks] == [
        "session:101:symptom_report",
        "session:101:phq9",
        "session:102:symptom_report",
        "session:102:phq9",
        "session:103:symptom_report",
        "session:103:phq9",
    ]
    first = by_key(tasks)["session:101:symptom_report"]
    assert first.kind == "symptom_report"
    assert first.session_id == 101
    assert first.due_at == START + cal.REPORT_DUE_AFTER_START
    phq9 = by_key(tasks)["session:101:phq9"]
    assert phq9.due_at == START + timedelta(days=1)
    # Superseded when the next session's PHQ-9 falls due (2 days later), before 3 days pass.
    assert phq9.expires_at == sessions[1].started_at + timedelta(days=1)
    last = by_key(tasks)["session:103:phq9"]
    assert last.expires_at == last.due_at + cal.PHQ9_WINDOW
    last_report = by_key(tasks)["session:103:symptom_report"]
    assert last_report.expires_at == last_report.due_at + cal.REPORT_WINDOW


def test_course_completion_and_follow_ups() -> None:
    sessions = acute_sessions(6)
    tasks = by_key(make_plan(sessions))
    sixth = sessions[5]
    assert "session:106:phq9" not in tasks
    completion = tasks["course_completion:phq9"]
    assert (completion.kind, completion.session_id) == ("phq9", 106)
    assert completion.due_at == sixth.started_at + timedelta(days=1)
    for months in (1, 3, 6, 12, 24):
        follow_up = tasks[f"followup:{months}m:phq9"]
        assert follow_up.due_at == add_months(sixth.started_at, months)
        assert follow_up.session_id is None
    assert tasks["followup:24m:phq9"].due_at == datetime(2028, 1, 16, 15, 0, tzinfo=UTC)
    nxt = tasks["maintenance:next"]
    assert nxt.kind == "maintenance_session"
    assert nxt.due_at == sixth.started_at + timedelta(days=3)
    assert nxt.expires_at == nxt.due_at + timedelta(days=2)
    assert not any(t.kind == "asrm" for t in tasks.values())


def test_late_session_moves_the_maintenance_plan() -> None:
    sessions = acute_sessions(6)
    on_time = by_key(make_plan(sessions))["maintenance:next"].due_at
    late = SessionRecord(id=200, started_at=on_time + timedelta(days=2, hours=3))
    moved = by_key(make_plan([*sessions, late]))
    assert moved["maintenance:next"].due_at == late.started_at + timedelta(days=3)
    assert (
        next_maintenance_due(sessions=[late, *sessions], interval_days=3)
        == moved["maintenance:next"].due_at
    )
    weekly = by_key(make_plan([*sessions, late], interval_days=7))
    assert weekly["maintenance:next"].due_at == late.started_at + timedelta(days=7)


def test_next_maintenance_due_without_sessions() -> None:
    assert next_maintenance_due(sessions=[], interval_days=3) is None
    with pytest.raises(InvalidInput):
        next_maintenance_due(sessions=[], interval_days=1)


def test_bipolar_patients_get_asrm_in_maintenance_only() -> None:
    sessions = [*acute_sessions(6), SessionRecord(300, START + timedelta(days=15))]
    tasks = by_key(make_plan(sessions, bipolar=True))
    asrm = sorted(k for k, t in tasks.items() if t.kind == "asrm")
    assert asrm == sorted(
        ["course_completion:asrm", "session:300:asrm"]
        + [f"followup:{m}m:asrm" for m in (1, 3, 6, 12, 24)]
    )
    assert tasks["session:300:asrm"].due_at == tasks["session:300:phq9"].due_at
    acute_only = make_plan(acute_sessions(5), bipolar=True)
    assert not any(t.kind == "asrm" for t in acute_only)


def test_declared_phases_shape_the_plan() -> None:
    sessions = acute_sessions(8)
    extended = by_key(make_plan(sessions, phase_override="acute"))
    assert "course_completion:phq9" not in extended
    assert "maintenance:next" not in extended
    assert "session:106:phq9" in extended
    follow_up = by_key(make_plan(sessions, phase_override="follow_up"))
    assert "maintenance:next" not in follow_up
    assert "followup:1m:phq9" in follow_up
    assert make_plan(sessions, phase_override="completed") == []
    ten = by_key(make_plan(sessions, acute_target=10))
    assert "course_completion:phq9" not in ten


def test_plan_is_deterministic_sorted_and_unique() -> None:
    sessions = acute_sessions(9)
    shuffled = sessions[:]
    random.Random(4).shuffle(shuffled)
    first, second = make_plan(sessions, bipolar=True), make_plan(shuffled, bipolar=True)
    assert first == second
    keys = [t.key for t in first]
    assert len(keys) == len(set(keys))
    assert first == sorted(first, key=lambda t: (t.due_at, t.key))
    assert all(t.expires_at >= t.due_at for t in first)
    json.dumps([t.as_dict() for t in first])


def test_plan_ignores_sessions_after_now() -> None:
    sessions = acute_sessions(6)
    tasks = make_plan(sessions, now=sessions[5].started_at - timedelta(minutes=1))
    assert {t.session_id for t in tasks} == {101, 102, 103, 104, 105}


def test_plan_refuses_bad_sessions() -> None:
    with pytest.raises(InvalidInput) as caught:
        make_plan([SessionRecord(1, START), SessionRecord(1, START + timedelta(days=2))])
    assert list(caught.value.errors) == ["sessions"]
    with pytest.raises(ValueError, match="timezone-aware"):
        make_plan([SessionRecord(1, START.replace(tzinfo=None))])


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (datetime(2027, 1, 31, 15, tzinfo=UTC), 1, datetime(2027, 2, 28, 15, tzinfo=UTC)),
        (datetime(2028, 1, 31, 15, tzinfo=UTC), 1, datetime(2028, 2, 29, 15, tzinfo=UTC)),
        (datetime(2026, 8, 31, 9, tzinfo=UTC), 3, datetime(2026, 11, 30, 9, tzinfo=UTC)),
        (datetime(2026, 12, 15, 9, tzinfo=UTC), 1, datetime(2027, 1, 15, 9, tzinfo=UTC)),
        (datetime(2026, 3, 31, 9, tzinfo=UTC), 6, datetime(2026, 9, 30, 9, tzinfo=UTC)),
        (datetime(2026, 2, 28, 9, tzinfo=UTC), 24, datetime(2028, 2, 28, 9, tzinfo=UTC)),
        (datetime(2027, 8, 31, 9, tzinfo=UTC), 6, datetime(2028, 2, 29, 9, tzinfo=UTC)),
    ],
)
def test_add_months_clamps_to_month_end(moment: datetime, months: int, expected: datetime) -> None:
    assert add_months(moment, months) == expected


def test_follow_ups_clamp_to_month_end() -> None:
    start = datetime(2027, 8, 20, 15, tzinfo=UTC)
    sessions = [SessionRecord(i, start + timedelta(days=2 * i - 2)) for i in range(1, 7)]
    assert sessions[5].started_at.day == 30
    tasks = by_key(make_plan(sessions, now=datetime(2030, 1, 1, tzinfo=UTC)))
    due = {m: tasks[f"followup:{m}m:phq9"].due_at.date() for m in (1, 3, 6, 12, 24)}
    assert due == {
        1: date(2027, 9, 30),
        3: date(2027, 11, 30),
        6: date(2028, 2, 29),
        12: date(2028, 8, 30),
        24: date(2029, 8, 30),
    }


@pytest.mark.parametrize(
    ("local", "quiet"),
    [
        (time(20, 59), False),
        (time(21, 0), True),
        (time(23, 59), True),
        (time(0, 0), True),
        (time(7, 59), True),
        (time(8, 0), False),
        (time(12, 0), False),
    ],
)
def test_quiet_hours_wrap_midnight(local: time, quiet: bool) -> None:
    # Asia/Kolkata has no DST: UTC+05:30.
    at = datetime.combine(date(2026, 7, 1), local) - timedelta(hours=5, minutes=30)
    got = in_quiet_hours(
        at=at.replace(tzinfo=UTC), tz="Asia/Kolkata", quiet_start=NIGHT[0], quiet_end=NIGHT[1]
    )
    assert got is quiet


@pytest.mark.parametrize(
    ("start", "end", "local", "quiet"),
    [
        (time(13, 0), time(14, 0), time(13, 30), True),
        (time(13, 0), time(14, 0), time(14, 0), False),
        (time(13, 0), time(14, 0), time(12, 59), False),
        (time(9, 0), time(9, 0), time(9, 0), False),  # equal bounds: no quiet hours
    ],
)
def test_quiet_hours_same_day_window(start: time, end: time, local: time, quiet: bool) -> None:
    at = datetime.combine(date(2026, 7, 1), local, tzinfo=UTC)
    assert in_quiet_hours(at=at, tz="UTC", quiet_start=start, quiet_end=end) is quiet


U = UTC


@pytest.mark.parametrize(
    ("tz", "due", "window", "expected"),
    [
        # outside quiet hours: unchanged (returned in UTC)
        (
            "America/New_York",
            datetime(2026, 7, 1, 16, 0, tzinfo=U),
            NIGHT,
            datetime(2026, 7, 1, 16, 0, tzinfo=U),
        ),
        # 22:00 EDT -> 08:00 EDT next day
        (
            "America/New_York",
            datetime(2026, 7, 2, 2, 0, tzinfo=U),
            NIGHT,
            datetime(2026, 7, 2, 12, 0, tzinfo=U),
        ),
        # 06:00 EST -> 08:00 EST same day
        (
            "America/New_York",
            datetime(2026, 1, 15, 11, 0, tzinfo=U),
            NIGHT,
            datetime(2026, 1, 15, 13, 0, tzinfo=U),
        ),
        # spring forward (2026-03-08): 23:00 EST Sat -> 08:00 EDT Sun = 12:00 UTC
        (
            "America/New_York",
            datetime(2026, 3, 8, 4, 0, tzinfo=U),
            NIGHT,
            datetime(2026, 3, 8, 12, 0, tzinfo=U),
        ),
        # fall back (2026-11-01): 23:00 EDT Sat -> 08:00 EST Sun = 13:00 UTC
        (
            "America/New_York",
            datetime(2026, 11, 1, 3, 0, tzinfo=U),
            NIGHT,
            datetime(2026, 11, 1, 13, 0, tzinfo=U),
        ),
        # quiet ends at a skipped time (02:30): send when the clock jumps to 03:00 EDT
        (
            "America/New_York",
            datetime(2026, 3, 8, 5, 0, tzinfo=U),
            (time(21), time(2, 30)),
            datetime(2026, 3, 8, 7, 0, tzinfo=U),
        ),
        # quiet ends at a repeated time (01:30): the first 01:30 (EDT)
        (
            "America/New_York",
            datetime(2026, 11, 1, 4, 0, tzinfo=U),
            (time(21), time(1, 30)),
            datetime(2026, 11, 1, 5, 30, tzinfo=U),
        ),
        # already in the repeated hour (01:00 EST): the second 01:30
        (
            "America/New_York",
            datetime(2026, 11, 1, 6, 0, tzinfo=U),
            (time(21), time(1, 30)),
            datetime(2026, 11, 1, 6, 30, tzinfo=U),
        ),
        # falling back out of a window that starts inside the repeated hour
        (
            "America/New_York",
            datetime(2026, 11, 1, 5, 45, tzinfo=U),
            (time(1, 15), time(8)),
            datetime(2026, 11, 1, 6, 0, tzinfo=U),
        ),
        # London spring forward (2026-03-29): 22:00 GMT -> 08:00 BST = 07:00 UTC
        (
            "Europe/London",
            datetime(2026, 3, 28, 22, 0, tzinfo=U),
            NIGHT,
            datetime(2026, 3, 29, 7, 0, tzinfo=U),
        ),
        # London fall back (2026-10-25): 22:00 BST -> 08:00 GMT = 08:00 UTC
        (
            "Europe/London",
            datetime(2026, 10, 24, 21, 0, tzinfo=U),
            NIGHT,
            datetime(2026, 10, 25, 8, 0, tzinfo=U),
        ),
        # London: quiet ends at skipped 01:30 -> 02:00 BST = 01:00 UTC
        (
            "Europe/London",
            datetime(2026, 3, 28, 23, 0, tzinfo=U),
            (time(21), time(1, 30)),
            datetime(2026, 3, 29, 1, 0, tzinfo=U),
        ),
    ],
)
def test_local_send_time(
    tz: str, due: datetime, window: tuple[time, time], expected: datetime
) -> None:
    got = local_send_time(due_at=due, tz=tz, quiet_start=window[0], quiet_end=window[1])
    assert got == expected
    assert got.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("tz", "day", "hour", "expected"),
    [
        ("America/New_York", date(2026, 3, 7), time(9), datetime(2026, 3, 7, 14, tzinfo=U)),
        ("America/New_York", date(2026, 3, 8), time(9), datetime(2026, 3, 8, 13, tzinfo=U)),
        ("America/New_York", date(2026, 11, 1), time(9), datetime(2026, 11, 1, 14, tzinfo=U)),
        ("America/New_York", date(2026, 3, 8), time(2, 30), datetime(2026, 3, 8, 7, tzinfo=U)),
        (
            "America/New_York",
            date(2026, 11, 1),
            time(1, 30),
            datetime(2026, 11, 1, 5, 30, tzinfo=U),
        ),
        ("Europe/London", date(2026, 3, 28), time(9), datetime(2026, 3, 28, 9, tzinfo=U)),
        ("Europe/London", date(2026, 3, 29), time(9), datetime(2026, 3, 29, 8, tzinfo=U)),
        ("Europe/London", date(2026, 10, 25), time(9), datetime(2026, 10, 25, 9, tzinfo=U)),
    ],
)
def test_maintenance_reminder_at(tz: str, day: date, hour: time, expected: datetime) -> None:
    assert maintenance_reminder_at(due_date_local=day, tz=tz, hour=hour) == expected


def test_default_reminder_hour_is_nine() -> None:
    got = maintenance_reminder_at(due_date_local=date(2026, 7, 1), tz="Europe/London")
    assert got == datetime(2026, 7, 1, 8, tzinfo=U)


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "../etc/passwd"])
def test_unknown_time_zone(tz: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        local_send_time(due_at=START, tz=tz, quiet_start=NIGHT[0], quiet_end=NIGHT[1])
    assert list(caught.value.errors) == ["timezone"]


def test_naive_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        in_quiet_hours(at=datetime(2026, 1, 1), tz="UTC", quiet_start=NIGHT[0], quiet_end=NIGHT[1])


ZONES = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]


@given(
    tz=st.sampled_from(ZONES),
    minute=st.integers(min_value=0, max_value=2 * 365 * 24 * 60),
    start=st.integers(min_value=0, max_value=47),
    end=st.integers(min_value=0, max_value=47),
)
def test_send_time_is_the_first_minute_outside_quiet_hours(
    tz: str, minute: int, start: int, end: int
) -> None:
    due = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)
    quiet_start, quiet_end = time(start // 2, 30 * (start % 2)), time(end // 2, 30 * (end % 2))
    got = local_send_time(due_at=due, tz=tz, quiet_start=quiet_start, quiet_end=quiet_end)

    def quiet(at: datetime) -> bool:
        return in_quiet_hours(at=at, tz=tz, quiet_start=quiet_start, quiet_end=quiet_end)

    expected = due
    while quiet(expected):
        expected += timedelta(minutes=1)
    assert got == expected
