"""replan_patient: the calendar becomes Task rows, and moves them without losing history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from services import schedule
from services.runtime import Runtime
from store.clock import FrozenClock
from store.models import PatientProfile
from store.schedule import Task
from tests.api.helpers import assert_problem
from tests.schedule.support import record
from tests.support.suite import Auth
from tests.support.world import World


def _tasks(rt: Runtime, patient_id: int) -> dict[str, Task]:
    with rt.database.session() as session:
        return {
            t.key: t for t in session.scalars(select(Task).where(Task.patient_id == patient_id))
        }


def _replan(rt: Runtime, patient_id: int) -> None:
    with rt.database.unit_of_work() as session:
        patient = session.get(PatientProfile, patient_id)
        assert patient is not None
        schedule.replan_patient(session, patient=patient, now=rt.clock.now())


def _profile(rt: Runtime, patient_id: int) -> PatientProfile:
    with rt.database.session() as session:
        patient = session.get(PatientProfile, patient_id)
        assert patient is not None
        return patient


def _acute_course(client: FlaskClient, auth: Auth, patient_id: int, clock: FrozenClock) -> None:
    start = clock.now()
    for day in (0, 2, 4, 7, 9, 11):
        clock.set(start + timedelta(days=day, minutes=30))
        record(client, auth.headers(World.cx1), patient_id, start + timedelta(days=day))


def test_enrolment_starts_acute_with_nothing_to_ask(world: World, rt: Runtime) -> None:
    profile = _profile(rt, world.patient_a)
    assert profile.phase == "acute" and profile.maintenance_due_at is None
    # rules-2: only the pre-treatment PHQ-9 (the baseline), open until the first session.
    tasks = _tasks(rt, world.patient_a)
    assert set(tasks) == {"pre_treatment:phq9"}
    assert tasks["pre_treatment:phq9"].status == "open"
    assert tasks["pre_treatment:phq9"].remind_at is None


def test_replanning_is_idempotent_and_never_reopens(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    start = clock.now()
    session = record(client, auth.headers(World.cx1), world.patient_a, start)
    report_key = f"session:{session['id']}:symptom_report"
    before = _tasks(rt, world.patient_a)
    # The pre-treatment PHQ-9 closed (missed) when the first session started.
    assert before.pop("pre_treatment:phq9").status == "missed"
    assert set(before) == {report_key, f"session:{session['id']}:phq9"}
    for _ in range(3):
        _replan(rt, world.patient_a)
    after = _tasks(rt, world.patient_a)
    after.pop("pre_treatment:phq9")
    assert {k: (t.id, t.due_at, t.expires_at, t.remind_at) for k, t in after.items()} == {
        k: (t.id, t.due_at, t.expires_at, t.remind_at) for k, t in before.items()
    }

    clock.set(start + timedelta(hours=3))
    with rt.database.unit_of_work() as db:
        schedule.complete_task(
            db,
            patient_id=world.patient_a,
            task_id=before[report_key].id,
            kind="symptom_report",
            now=clock.now(),
        )
    _replan(rt, world.patient_a)
    assert _tasks(rt, world.patient_a)[report_key].status == "done"
    with rt.database.session() as db:
        # Two for the session, plus each patient's pre-treatment PHQ-9 from enrolment.
        count = db.scalar(
            select(func.count()).select_from(Task).where(Task.key != "pre_treatment:phq9")
        )
        assert count == 2


def test_a_new_session_clamps_the_previous_windows(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    start = clock.now()
    first = record(client, auth.headers(World.cx1), world.patient_a, start)
    clock.set(start + timedelta(days=1, hours=1))
    record(client, auth.headers(World.cx1), world.patient_a, start + timedelta(days=1))
    tasks = _tasks(rt, world.patient_a)
    report = tasks[f"session:{first['id']}:symptom_report"]
    # Open until the next session's report falls due, not the full 48 hours.
    assert report.expires_at == start + timedelta(days=1, hours=2)
    assert report.remind_at is None or report.remind_at < report.expires_at


def test_course_completion_maintenance_and_phase(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    start = clock.now()
    _acute_course(client, auth, world.patient_a, clock)
    profile = _profile(rt, world.patient_a)
    last = start + timedelta(days=11)
    assert profile.phase == "maintenance"
    assert profile.maintenance_due_at == last + timedelta(days=3)
    tasks = _tasks(rt, world.patient_a)
    assert "course_completion:phq9" in tasks
    assert {f"followup:{m}m:phq9" for m in (1, 3, 6, 12, 24)} <= set(tasks)
    maintenance = [t for t in tasks.values() if t.kind == "maintenance_session"]
    assert len(maintenance) == 1 and maintenance[0].status == "open"

    # The next session fulfils it; a fresh one follows the new session.
    clock.set(last + timedelta(days=3, hours=1))
    record(client, auth.headers(World.cx1), world.patient_a, last + timedelta(days=3))
    tasks = _tasks(rt, world.patient_a)
    old = tasks[maintenance[0].key]
    assert old.status == "done" and old.remind_at is None
    fresh = [t for t in tasks.values() if t.kind == "maintenance_session" and t.status == "open"]
    assert len(fresh) == 1 and fresh[0].due_at == last + timedelta(days=6)


def test_a_declared_phase_cancels_what_no_longer_applies(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    _acute_course(client, auth, world.patient_a, clock)
    response = client.patch(
        f"/api/v1/patients/{world.patient_a}",
        json={"phase": "completed"},
        headers=auth.headers(World.cx1),
    )
    assert response.status_code == 200 and response.get_json()["phase"] == "completed"
    tasks = _tasks(rt, world.patient_a)
    assert all(t.status != "open" for t in tasks.values())
    assert {t.status for t in tasks.values() if t.key.startswith("followup:")} == {"cancelled"}
    assert all(t.remind_at is None for t in tasks.values())
    assert _profile(rt, world.patient_a).maintenance_due_at is None
    # Moving back to maintenance plans again, but never reopens what was cancelled.
    client.patch(
        f"/api/v1/patients/{world.patient_a}",
        json={"phase": "maintenance"},
        headers=auth.headers(World.cx1),
    )
    tasks = _tasks(rt, world.patient_a)
    assert {t.status for t in tasks.values() if t.key.startswith("followup:")} == {"cancelled"}
    assert _profile(rt, world.patient_a).maintenance_due_at is not None


def test_a_new_interval_moves_the_open_maintenance_task(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    start = clock.now()
    _acute_course(client, auth, world.patient_a, clock)
    last = start + timedelta(days=11)
    response = client.patch(
        f"/api/v1/patients/{world.patient_a}",
        json={"maintenance_interval_days": 5},
        headers=auth.headers(World.cx1),
    )
    assert response.status_code == 200
    assert response.get_json()["maintenance_interval_days"] == 5
    (task,) = [t for t in _tasks(rt, world.patient_a).values() if t.kind == "maintenance_session"]
    assert task.status == "open"
    assert task.due_at == last + timedelta(days=5)
    assert task.expires_at == last + timedelta(days=7)
    assert task.remind_at is not None and task.remind_at.date() == task.due_at.date()
    assert _profile(rt, world.patient_a).maintenance_due_at == last + timedelta(days=5)


@pytest.mark.parametrize("value", [0, 1, 29, "3", 2.5, True, None, -3])
def test_bad_intervals_are_422_and_change_nothing(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, value: Any
) -> None:
    before = _profile(rt, world.patient_a).maintenance_interval_days
    problem = assert_problem(
        client.patch(
            f"/api/v1/patients/{world.patient_a}",
            json={"maintenance_interval_days": value},
            headers=auth.headers(World.cx1),
        ),
        422,
    )
    assert "maintenance_interval_days" in problem["errors"]
    assert _profile(rt, world.patient_a).maintenance_interval_days == before


@pytest.mark.parametrize("value", ["Mars/Olympus_Mons", "EST5EDT ", "", 5])
def test_unknown_time_zones_are_422(
    client: FlaskClient, auth: Auth, world: World, value: Any
) -> None:
    problem = assert_problem(
        client.patch(
            f"/api/v1/patients/{world.patient_a}",
            json={"timezone": value},
            headers=auth.headers(World.cx1),
        ),
        422,
    )
    assert "timezone" in problem["errors"]


def test_bipolar_patients_get_a_mood_check_without_its_own_reminder(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    client.patch(
        f"/api/v1/patients/{world.patient_a}",
        json={"bipolar": True},
        headers=auth.headers(World.cx1),
    )
    _acute_course(client, auth, world.patient_a, clock)
    tasks = _tasks(rt, world.patient_a)
    asrm = tasks["course_completion:asrm"]
    assert asrm.kind == "asrm" and asrm.status == "open" and asrm.remind_at is None
    assert tasks["course_completion:phq9"].remind_at is not None
