"""Time travel: reminders go out once, at the right local hour, never in quiet hours."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from clinical.calendar import in_quiet_hours
from schedules import runs
from services import schedule
from services.runtime import Runtime
from store.clock import FrozenClock
from store.models import Clinic, PatientProfile, User
from store.schedule import Task, TreatmentSession
from tests.schedule.support import (
    assert_no_phi,
    local,
    record,
    reminders,
    run_jobs,
    walk,
)
from tests.support.suite import Auth
from tests.support.world import World

NY = "America/New_York"
LONDON = "Europe/London"
QUIET = {"quiet_start": time(21, 0), "quiet_end": time(8, 0)}
CHECKIN = "Tandem: you have a check-in waiting in the app."
DUE_TODAY = "Tandem: your next session is due today. Contact your clinic to book."
DUE = "Tandem: your next session is due. Contact your clinic to book."


def at(tz: str, y: int, m: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def _answer_due_reports(rt: Runtime, patient_id: int) -> None:
    """The patient answers the post-session report the app shows (not the PHQ-9)."""
    now = rt.clock.now()
    with rt.database.unit_of_work() as session:
        for task in schedule.list_due_tasks(session, patient_id=patient_id, now=now):
            if task.kind == "symptom_report":
                schedule.complete_task(
                    session, patient_id=patient_id, task_id=task.id, kind="symptom_report", now=now
                )


def _tasks(rt: Runtime, patient_id: int) -> dict[str, Task]:
    with rt.database.session() as session:
        return {
            t.key: t for t in session.scalars(select(Task).where(Task.patient_id == patient_id))
        }


def _assert_reminders_sound(rt: Runtime, tz: str, phone: str) -> None:
    sent = reminders(rt)
    keys = Counter(r.dedupe_key for r in sent)
    assert all(count == 1 for count in keys.values())
    per_task = Counter(r.dedupe_key.rsplit(":", 1)[0] for r in sent)
    assert max(per_task.values()) <= 2
    for reminder in sent:
        assert reminder.to == phone
        assert reminder.body in (CHECKIN, DUE_TODAY, DUE)
        assert_no_phi(reminder.body)
        assert not in_quiet_hours(at=reminder.at, tz=tz, **QUIET), local(reminder.at, tz)
        if reminder.body in (DUE_TODAY, DUE):
            assert local(reminder.at, tz).time() == time(9, 0), local(reminder.at, tz)


def test_a_patient_walks_through_the_protocol(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    cx, pid = auth.headers(World.cx1), world.patient_a
    # Acute course: Monday, Wednesday, Friday at 10:00 for two weeks.
    acute = [at(NY, 2026, 11, day, 10) for day in (2, 4, 6, 9, 11, 13)]
    for start in acute:
        walk(rt, clock, start + timedelta(minutes=30))
        record(client, cx, pid, start)
        walk(rt, clock, start + timedelta(hours=3))
        _answer_due_reports(rt, pid)
    first = reminders(rt)
    # Session 1's report was reminded at 12:00 local, its PHQ-9 the next day at 10:00.
    assert [local(r.at, NY).replace(tzinfo=None) for r in first[:2]] == [
        datetime(2026, 11, 2, 12, 0),
        datetime(2026, 11, 3, 10, 0),
    ]

    with rt.database.session() as session:
        profile = session.get(PatientProfile, pid)
        assert profile is not None and profile.phase == "maintenance"
        assert profile.maintenance_due_at == at(NY, 2026, 11, 16, 10)

    # Maintenance: due Monday 16th; the session happens late, on Tuesday afternoon.
    walk(rt, clock, at(NY, 2026, 11, 17, 15))
    maintenance = [r for r in reminders(rt) if r.body in (DUE_TODAY, DUE)]
    assert [(local(r.at, NY).replace(tzinfo=None), r.body) for r in maintenance] == [
        (datetime(2026, 11, 16, 9, 0), DUE_TODAY),
        (datetime(2026, 11, 17, 9, 0), DUE),
    ]
    late = at(NY, 2026, 11, 17, 14)
    record(client, cx, pid, late)
    tasks = _tasks(rt, pid)
    assert tasks[f"maintenance:after:{_last_session(rt, pid)}"].due_at == late + timedelta(days=3)
    # The clinician moves the patient to weekly maintenance.
    response = client.patch(
        f"/api/v1/patients/{pid}", json={"maintenance_interval_days": 7}, headers=cx
    )
    assert response.status_code == 200, response.get_json()
    with rt.database.session() as session:
        profile = session.get(PatientProfile, pid)
        assert profile is not None and profile.maintenance_due_at == late + timedelta(days=7)

    # Weekly sessions on Tuesdays at 14:00, across the spring-forward of 14 March 2027.
    start = late + timedelta(days=7)
    while start < at(NY, 2027, 3, 20, 0):
        walk(rt, clock, start + timedelta(minutes=30))
        record(client, cx, pid, start)
        walk(rt, clock, start + timedelta(hours=3))
        _answer_due_reports(rt, pid)
        start = at(NY, *(local(start, NY) + timedelta(days=7)).timetuple()[:3], 14)
    walk(rt, clock, at(NY, 2027, 3, 25, 12))

    _assert_reminders_sound(rt, NY, World.pa_phone)
    sent = reminders(rt)
    nine = [local(r.at, NY) for r in sent if r.body == DUE_TODAY]
    # 09:00 local on both sides of the change: 14:00 UTC in winter, 13:00 UTC in summer.
    assert {r.astimezone(UTC).hour for r in nine} == {14, 13}
    assert all(r.time() == time(9, 0) for r in nine)
    # Follow-ups a month and three months after the course's last session (13 Nov, 10:00).
    follow_ups = [
        r
        for r in sent
        if local(r.at, NY).replace(tzinfo=None)
        in (datetime(2026, 12, 13, 10, 0), datetime(2027, 2, 13, 10, 0))
    ]
    assert len(follow_ups) == 2

    # Nothing more, however often the jobs run, or from a second scheduler.
    before = len(sent)
    for _ in range(3):
        run_jobs(rt)
    second = Runtime.from_settings(rt.settings, sms=rt.sms, clock=clock)
    try:
        run_jobs(second)
    finally:
        second.database.dispose()
    assert len(reminders(rt)) == before


def _last_session(rt: Runtime, patient_id: int) -> int:
    with rt.database.session() as session:
        last = session.scalars(
            select(TreatmentSession.id)
            .where(TreatmentSession.patient_id == patient_id)
            .order_by(TreatmentSession.started_at.desc())
        ).first()
        assert last is not None
        return last


def _maintenance_patient(
    client: FlaskClient, auth: Auth, patient_id: int, tz: str, last_session: datetime
) -> None:
    """Put a patient in maintenance (declared) in ``tz`` with one session at ``last_session``."""
    cx = auth.headers(World.cx1)
    response = client.patch(
        f"/api/v1/patients/{patient_id}", json={"phase": "maintenance", "timezone": tz}, headers=cx
    )
    assert response.status_code == 200, response.get_json()
    record(client, cx, patient_id, last_session)


@pytest.mark.parametrize(
    ("tz", "last", "expected"),
    [
        # New York falls back on Sunday 1 November 2026: 09:00 EDT is 13:00Z, 09:00 EST 14:00Z.
        (NY, (2026, 10, 28, 10), [(2026, 10, 31, 13), (2026, 11, 1, 14)]),
        # London falls back on Sunday 25 October 2026: 09:00 BST is 08:00Z, 09:00 GMT 09:00Z.
        (LONDON, (2026, 10, 21, 10), [(2026, 10, 24, 8), (2026, 10, 25, 9)]),
        # New York springs forward on Sunday 14 March 2027.
        (NY, (2027, 3, 10, 10), [(2027, 3, 13, 14), (2027, 3, 14, 13)]),
        # London springs forward on Sunday 28 March 2027.
        (LONDON, (2027, 3, 24, 10), [(2027, 3, 27, 9), (2027, 3, 28, 8)]),
    ],
)
def test_maintenance_reminders_stay_at_nine_across_dst(
    client: FlaskClient,
    auth: Auth,
    world_at: Callable[[datetime], World],
    rt: Runtime,
    clock: FrozenClock,
    tz: str,
    last: tuple[int, int, int, int],
    expected: list[tuple[int, int, int, int]],
) -> None:
    start = at(tz, *last)
    world = world_at(start + timedelta(hours=1))
    _maintenance_patient(client, auth, world.patient_b, tz, start)
    walk(rt, clock, start + timedelta(days=6))
    sent = [r for r in reminders(rt) if r.body in (DUE_TODAY, DUE)]
    assert [r.at for r in sent] == [datetime(*e, tzinfo=UTC) for e in expected]
    assert [local(r.at, tz).time() for r in sent] == [time(9, 0), time(9, 0)]
    assert [r.body for r in sent] == [DUE_TODAY, DUE]
    _assert_reminders_sound(rt, tz, World.pb_phone)


def test_a_checkin_due_in_the_repeated_night_hour_waits_for_morning(
    client: FlaskClient,
    auth: Auth,
    world_at: Callable[[datetime], World],
    rt: Runtime,
    clock: FrozenClock,
) -> None:
    # A session at 23:30 EDT on 31 Oct: its report falls due at 01:30 in the hour New York
    # lives twice; the reminder waits for 08:00 EST.
    start = at(NY, 2026, 10, 31, 23, 30)
    world = world_at(start + timedelta(minutes=10))
    record(client, auth.headers(World.cx1), world.patient_a, start)
    walk(rt, clock, start + timedelta(hours=20))
    first = reminders(rt)[0]
    assert local(first.at, NY).replace(tzinfo=None) == datetime(2026, 11, 1, 8, 0)
    assert first.at == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)


def test_clinic_quiet_hours_and_a_coarse_scheduler(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    with rt.database.unit_of_work() as session:
        clinic = session.get(Clinic, world.clinic_x)
        assert clinic is not None
        clinic.escalation_policy = {"quiet_hours": {"start": "20:00", "end": "09:30"}}
    # Report due at 20:30 local: inside this clinic's quiet hours.
    start = at(NY, 2026, 11, 2, 18, 30)
    clock.set(start + timedelta(minutes=5))
    record(client, auth.headers(World.cx1), world.patient_a, start)
    # A scheduler that wakes only every 47 minutes never sends inside quiet hours either.
    end = start + timedelta(days=3)
    while clock.now() < end:
        clock.advance(timedelta(minutes=47))
        run_jobs(rt)
    sent = reminders(rt)
    assert sent
    quiet = {"quiet_start": time(20, 0), "quiet_end": time(9, 30)}
    assert all(not in_quiet_hours(at=r.at, tz=NY, **quiet) for r in sent)
    assert local(sent[0].at, NY).time() >= time(9, 30)


def test_a_new_time_zone_defers_a_reminder_planned_for_the_old_one(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    start = at(NY, 2026, 11, 2, 14)
    clock.set(start + timedelta(minutes=5))
    record(client, auth.headers(World.cx1), world.patient_a, start)  # report due 16:00 NY
    # The patient moves to Tokyo, where 16:00 New York is 06:00 the next morning.
    response = client.patch(
        f"/api/v1/patients/{world.patient_a}",
        json={"timezone": "Asia/Tokyo"},
        headers=auth.headers(World.cx1),
    )
    assert response.status_code == 200
    clock.set(start + timedelta(hours=2))
    run_jobs(rt)
    assert reminders(rt) == []
    walk(rt, clock, start + timedelta(days=1))
    first = reminders(rt)[0]
    assert local(first.at, "Asia/Tokyo").time() == time(8, 0)


def test_opted_out_patients_get_no_reminders(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    with rt.database.unit_of_work() as session:
        user = session.get(User, world.patient_a)
        assert user is not None
        user.sms_opted_out = True
    start = clock.now()
    record(client, auth.headers(World.cx1), world.patient_a, start)
    record(client, auth.headers(World.cx1), world.patient_b, start)
    walk(rt, clock, start + timedelta(days=3))
    assert {r.recipient_id for r in reminders(rt)} == {world.patient_b}
    # Their tasks moved on all the same: nothing stays due to be sent later in a burst.
    assert all(t.remind_at is None for t in _tasks(rt, world.patient_a).values())


def test_answered_and_expired_tasks_are_never_reminded(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    start = clock.now()
    record(client, auth.headers(World.cx1), world.patient_a, start)
    clock.set(start + timedelta(hours=2))
    run_jobs(rt)  # the report's opening reminder
    _answer_due_reports(rt, world.patient_a)
    walk(rt, clock, start + timedelta(days=10))
    keys = [r.dedupe_key for r in reminders(rt)]
    tasks = _tasks(rt, world.patient_a)
    report = tasks[f"session:{_last_session(rt, world.patient_a)}:symptom_report"]
    phq9 = tasks[f"session:{_last_session(rt, world.patient_a)}:phq9"]
    assert report.status == "done" and keys.count(f"reminder:{report.id}:0") == 1
    assert f"reminder:{report.id}:1" not in keys  # answered: no nudge
    assert phq9.status == "missed"  # never answered: opening and nudge, then missed
    assert sorted(k for k in keys if k.startswith(f"reminder:{phq9.id}:")) == [
        f"reminder:{phq9.id}:0",
        f"reminder:{phq9.id}:1",
    ]
    before = len(keys)
    for _ in range(3):
        clock.advance(timedelta(days=1))
        run_jobs(rt)
    assert len(reminders(rt)) == before


def test_repeated_runs_and_a_second_scheduler_never_duplicate(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    start = clock.now()
    for pid in (world.patient_a, world.patient_b):
        record(client, auth.headers(World.cx1), pid, start)
    clock.set(start + timedelta(hours=2))
    other = Runtime.from_settings(rt.settings, sms=rt.sms, clock=clock)
    try:
        assert runs.reminder_batch(rt) == 2
        assert runs.reminder_batch(rt) == 0
        assert runs.reminder_batch(other) == 0
        assert len(reminders(rt)) == 2
        # Two schedulers racing, each in its own thread and connection.
        clock.set(start + timedelta(hours=26))
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def one_pass(runtime: Runtime) -> None:
            try:
                barrier.wait(timeout=10)
                runs.due_reminders(runtime)
            except BaseException as error:  # surfaced below
                errors.append(error)

        threads = [threading.Thread(target=one_pass, args=(r,)) for r in (rt, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not errors, errors
    finally:
        other.database.dispose()
    keys = [r.dedupe_key for r in reminders(rt)]
    assert len(keys) == len(set(keys)) == 6  # two opening reports + two nudges + two PHQ-9s


def test_many_due_at_once_are_drained_in_batches(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    start = clock.now()
    for pid in (world.patient_a, world.patient_b):
        record(client, auth.headers(World.cx1), pid, start)
    clock.set(start + timedelta(hours=2))
    assert runs.reminder_batch(rt, limit=1) == 1
    assert runs.reminder_batch(rt, limit=1) == 1
    assert runs.reminder_batch(rt, limit=1) == 0
    assert len(reminders(rt)) == 2


def test_a_maintenance_session_already_late_when_planned_is_not_due_today(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    # Typed in late: the last session was four days ago, so the next was due yesterday.
    client.patch(
        f"/api/v1/patients/{world.patient_a}",
        json={"phase": "maintenance"},
        headers=auth.headers(World.cx1),
    )
    record(client, auth.headers(World.cx1), world.patient_a, clock.now() - timedelta(days=4))
    run_jobs(rt)
    (reminder,) = [r for r in reminders(rt) if r.body in (DUE_TODAY, DUE)]
    assert reminder.body == DUE and reminder.at == clock.now()
