"""GET /api/v1/me/tasks and closing tasks by answering them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from services import schedule
from services.errors import Invalid, NotFound
from services.runtime import Runtime
from store.clock import FrozenClock
from store.schedule import Task
from tests.api.helpers import assert_problem
from tests.schedule.support import record, run_jobs
from tests.support.suite import Auth
from tests.support.world import World

TASKS = "/api/v1/me/tasks"


def test_tasks_appear_when_due_and_close_when_answered(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    patient = auth.headers(World.pa_phone)
    start = clock.now()
    session = record(client, auth.headers(World.cx1), world.patient_a, start)
    assert client.get(TASKS, headers=patient).get_json() == []

    clock.set(start + timedelta(hours=2))
    tasks = client.get(TASKS, headers=patient).get_json()
    assert [t["kind"] for t in tasks] == ["symptom_report"]
    report = tasks[0]
    assert report["session_id"] == session["id"]
    assert report["reason"] == "Post-session symptom report"
    # Shown in the patient's zone (New York, UTC-5 in November), with the offset.
    assert report["due_at"] == "2026-11-02T11:00:00-05:00"
    assert report["expires_at"] == "2026-11-04T11:00:00-05:00"
    assert datetime.fromisoformat(report["due_at"]) == start + timedelta(hours=2)

    clock.set(start + timedelta(days=1))
    assert [t["kind"] for t in client.get(TASKS, headers=patient).get_json()] == [
        "symptom_report",
        "phq9",
    ]

    # Answering the report through the self-report API, with its task id, closes it.
    answered = client.post(
        "/api/v1/symptom-reports",
        headers=patient,
        json={
            "task_id": report["id"],
            "session_id": session["id"],
            "symptoms": {
                name: 0
                for name in (
                    "dissociation",
                    "perceptual_disturbances",
                    "confusion",
                    "agitation",
                    "nausea",
                    "headache",
                    "scalp_pain",
                    "dizziness",
                    "drowsiness",
                    "blurred_vision",
                    "bladder_pain",
                    "urinary_urgency",
                )
            },
            "asrm": [0, 0, 0, 0, 0],
            "suicidal_thoughts": 0,
            "seizure": False,
            "fainted": False,
        },
    )
    assert answered.status_code == 201, answered.get_json()
    assert [t["kind"] for t in client.get(TASKS, headers=patient).get_json()] == ["phq9"]

    # Past its expiry a task is missed: not listed, not reminded.
    clock.set(start + timedelta(days=5))
    run_jobs(rt)
    assert client.get(TASKS, headers=patient).get_json() == []
    with rt.database.session() as db:
        rows = db.execute(
            select(Task.kind, Task.status).where(Task.patient_id == world.patient_a)
        ).all()
        statuses = {kind: status for kind, status in rows}
    assert statuses == {"symptom_report": "done", "phq9": "missed"}


def test_another_patients_task_is_404(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    start = clock.now()
    record(client, auth.headers(World.cx1), world.patient_b, start)
    clock.set(start + timedelta(hours=2))
    theirs = client.get(TASKS, headers=auth.headers(World.pb_phone)).get_json()[0]
    with rt.database.unit_of_work() as session, pytest.raises(NotFound):
        schedule.complete_task(
            session,
            patient_id=world.patient_a,
            task_id=theirs["id"],
            kind="symptom_report",
            now=clock.now(),
        )
    with rt.database.unit_of_work() as session, pytest.raises(NotFound):
        schedule.complete_task(
            session,
            patient_id=world.patient_a,
            task_id=987_654,
            kind="symptom_report",
            now=clock.now(),
        )
    response = client.post(
        "/api/v1/checkins/phq9",
        headers=auth.headers(World.pa_phone),
        json={"answers": [0] * 9, "task_id": theirs["id"]},
    )
    assert_problem(response, 404)
    # Still open for its owner.
    assert client.get(TASKS, headers=auth.headers(World.pb_phone)).get_json() == [theirs]


def test_a_task_answered_by_the_wrong_questionnaire_is_422(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    start = clock.now()
    record(client, auth.headers(World.cx1), world.patient_a, start)
    clock.set(start + timedelta(hours=2))
    report = client.get(TASKS, headers=auth.headers(World.pa_phone)).get_json()[0]
    with rt.database.unit_of_work() as session, pytest.raises(Invalid) as raised:
        schedule.complete_task(
            session, patient_id=world.patient_a, task_id=report["id"], kind="phq9", now=clock.now()
        )
    assert "task_id" in raised.value.errors


def test_completing_twice_or_late_is_harmless(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    start = clock.now()
    record(client, auth.headers(World.cx1), world.patient_a, start)
    clock.set(start + timedelta(hours=2))
    report = client.get(TASKS, headers=auth.headers(World.pa_phone)).get_json()[0]
    for _ in range(2):
        with rt.database.unit_of_work() as session:
            schedule.complete_task(
                session,
                patient_id=world.patient_a,
                task_id=report["id"],
                kind="symptom_report",
                now=clock.now(),
            )
    with rt.database.session() as session:
        task = session.get(Task, report["id"])
        assert task is not None
        assert task.status == "done" and task.completed_at == start + timedelta(hours=2)
        assert task.remind_at is None


def test_only_patients_have_tasks(client: FlaskClient, auth: Auth, world: World) -> None:
    assert_problem(client.get(TASKS, headers=auth.headers(World.cx1)), 403)
    assert_problem(client.get(TASKS), 401)
