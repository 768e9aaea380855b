"""A job whose batch had a failure finishes the batch, then ends as a failed run.

The failures are real: a patient's stored time zone that no longer exists, and a database that
refuses one patient's overdue mark (a trigger). The other items of the batch are committed,
the failed one stays due, the run raises (so APScheduler records an error) and job_runs
gets no new success; once the fault is gone the next run handles the item and succeeds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from flask.testing import FlaskClient
from sqlalchemy import select, text

from schedules.jobs import DUE_REMINDERS, OVERDUE_MAINTENANCE, register_jobs
from schedules.runs import BatchFailed
from services.runtime import Runtime
from store.clock import FrozenClock
from store.dialects import is_postgresql
from store.escalations import Escalation
from store.models import JobRun, PatientProfile
from store.schedule import Task
from tests.schedule.support import record, reminders
from tests.support.suite import Auth
from tests.support.world import World


def _job(rt: Runtime, job_id: str) -> Callable[[], None]:
    """The job exactly as the scheduler runs it (success recorded in job_runs)."""
    scheduler = BackgroundScheduler(timezone="UTC")
    register_jobs(scheduler, rt)
    job = scheduler.get_job(job_id)
    assert job is not None
    func: Callable[[], None] = job.func
    return func


def _last_success(rt: Runtime, job_id: str) -> object:
    with rt.database.session() as session:
        return session.scalar(select(JobRun.last_success_at).where(JobRun.job == job_id))


def _set_timezone(rt: Runtime, patient_id: int, tz: str) -> None:
    with rt.database.unit_of_work() as session:
        profile = session.get(PatientProfile, patient_id)
        assert profile is not None
        profile.timezone = tz


def test_a_reminder_that_fails_fails_the_run_after_the_rest_are_queued(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    start = clock.now()
    for pid in (world.patient_a, world.patient_b):
        record(client, auth.headers(World.cx1), pid, start)
    clock.set(start + timedelta(hours=2))
    _set_timezone(rt, world.patient_b, "Nowhere/Atlantis")  # a zone no tz database has
    with rt.database.session() as session:
        due_b = session.scalars(select(Task).where(Task.patient_id == world.patient_b)).all()
        before_b = {t.id: (t.remind_at, t.reminder_step) for t in due_b}
    run = _job(rt, DUE_REMINDERS)

    with pytest.raises(BatchFailed) as failed:
        run()

    now = clock.now()
    due = sorted(t for t, (at, _step) in before_b.items() if at is not None and at <= now)
    assert due and [f"task {t}" for t in due] == failed.value.failed
    assert [r.recipient_id for r in reminders(rt)] == [world.patient_a]
    with rt.database.session() as session:
        after_b = session.scalars(select(Task).where(Task.patient_id == world.patient_b)).all()
        assert {t.id: (t.remind_at, t.reminder_step) for t in after_b} == before_b
    assert _last_success(rt, DUE_REMINDERS) is None

    _set_timezone(rt, world.patient_b, "America/New_York")
    run()
    assert sorted(r.recipient_id for r in reminders(rt)) == sorted(
        [world.patient_a, world.patient_b]
    )
    assert _last_success(rt, DUE_REMINDERS) == clock.now()


def _refuse_marks_for(rt: Runtime, patient_id: int) -> Callable[[], None]:
    """A trigger that makes the database refuse this patient's overdue mark; returns its undo."""
    with rt.database.engine.begin() as conn:
        if is_postgresql(conn):
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_mark() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    f"BEGIN IF NEW.patient_id = {patient_id} THEN "
                    "RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_mark BEFORE INSERT ON maintenance_overdue_flags "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_mark()"
                )
            )
            undo = [
                "DROP TRIGGER refuse_mark ON maintenance_overdue_flags",
                "DROP FUNCTION refuse_mark()",
            ]
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_mark BEFORE INSERT ON maintenance_overdue_flags "
                    f"WHEN NEW.patient_id = {patient_id} "
                    "BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
            undo = ["DROP TRIGGER refuse_mark"]

    def remove() -> None:
        with rt.database.engine.begin() as conn:
            for statement in undo:
                conn.execute(text(statement))

    return remove


def test_an_overdue_check_that_fails_for_one_patient_still_raises_the_others(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    start = clock.now()
    for pid in (world.patient_a, world.patient_b):
        client.patch(
            f"/api/v1/patients/{pid}",
            json={"phase": "maintenance"},
            headers=auth.headers(World.cx1),
        )
        record(client, auth.headers(World.cx1), pid, start)
    clock.set(start + timedelta(days=5))
    remove = _refuse_marks_for(rt, world.patient_b)
    run = _job(rt, OVERDUE_MAINTENANCE)
    try:
        with pytest.raises(BatchFailed) as failed:
            run()
        assert failed.value.failed == [f"patient {world.patient_b}"]
        assert _escalated(rt) == [world.patient_a]
        assert _last_success(rt, OVERDUE_MAINTENANCE) is None
    finally:
        remove()

    run()
    assert _escalated(rt) == sorted([world.patient_a, world.patient_b])
    assert _last_success(rt, OVERDUE_MAINTENANCE) == clock.now()


def _escalated(rt: Runtime) -> list[int]:
    with rt.database.session() as session:
        return sorted(
            session.scalars(
                select(Escalation.patient_id).where(Escalation.kind == "maintenance_overdue")
            )
        )
