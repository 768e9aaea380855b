"""Issue 15 item 11: a bipolar patient's ASRM task can be answered through the API.

The ASRM task (a mood check beside a PHQ-9) is answered by the PHQ-9 check-in carrying its
``asrm`` items, with ``task_id`` either the ASRM task's or its PHQ-9 sibling's: one
submission closes both. The post-session report, which always carries the ASRM items,
may answer it too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from schedules import runs
from services.runtime import Runtime
from store.clock import FrozenClock
from store.reports import Phq9Checkin
from store.schedule import Task
from tests.schedule.support import record
from tests.support.selfreport import report_body
from tests.support.suite import Auth
from tests.support.world import World

TASKS = "/api/v1/me/tasks"
PHQ9 = [1, 1, 1, 1, 1, 1, 1, 1, 0]
CALM = [1, 1, 0, 1, 1]


def _bipolar_after_the_course(
    client: FlaskClient, auth: Auth, world: World, clock: FrozenClock
) -> dict[str, dict[str, Any]]:
    cx = auth.headers(World.cx1)
    client.patch(f"/api/v1/patients/{world.patient_a}", json={"bipolar": True}, headers=cx)
    start = clock.now()
    for day in (0, 2, 4, 7, 9, 11):
        clock.set(start + timedelta(days=day, minutes=30))
        record(client, cx, world.patient_a, start + timedelta(days=day))
    clock.set(start + timedelta(days=12, hours=1))
    tasks = client.get(TASKS, headers=auth.headers(World.pa_phone)).get_json()
    by_kind = {t["kind"]: t for t in tasks if t["kind"] in ("phq9", "asrm")}
    assert set(by_kind) == {"phq9", "asrm"}, tasks
    return by_kind


def _status(rt: Runtime, task_id: int) -> str:
    with rt.database.session() as s:
        task = s.get(Task, task_id)
        assert task is not None
        return task.status


def test_the_asrm_task_is_answered_with_the_phq9_and_closes_both(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    tasks = _bipolar_after_the_course(client, auth, world, clock)
    response = client.post(
        "/api/v1/checkins/phq9",
        json={"answers": PHQ9, "asrm": CALM, "task_id": tasks["asrm"]["id"]},
        headers=auth.headers(World.pa_phone),
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["asrm_total"] == 4
    assert (_status(rt, tasks["asrm"]["id"]), _status(rt, tasks["phq9"]["id"])) == ("done", "done")
    # Never marked missed afterwards.
    clock.advance(timedelta(days=10))
    runs.missed_tasks(rt)
    assert _status(rt, tasks["asrm"]["id"]) == "done"


def test_the_phq9_task_id_with_asrm_answers_closes_the_mood_check_too(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    tasks = _bipolar_after_the_course(client, auth, world, clock)
    response = client.post(
        "/api/v1/checkins/phq9",
        json={"answers": PHQ9, "asrm": CALM, "task_id": tasks["phq9"]["id"]},
        headers=auth.headers(World.pa_phone),
    )
    assert response.status_code == 201, response.get_json()
    assert (_status(rt, tasks["asrm"]["id"]), _status(rt, tasks["phq9"]["id"])) == ("done", "done")
    remaining = client.get(TASKS, headers=auth.headers(World.pa_phone)).get_json()
    assert not any(t["kind"] in ("phq9", "asrm") for t in remaining)


def test_a_phq9_without_asrm_answers_leaves_the_mood_check_open(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    tasks = _bipolar_after_the_course(client, auth, world, clock)
    ok = client.post(
        "/api/v1/checkins/phq9",
        json={"answers": PHQ9, "task_id": tasks["phq9"]["id"]},
        headers=auth.headers(World.pa_phone),
    )
    assert ok.status_code == 201
    assert (_status(rt, tasks["asrm"]["id"]), _status(rt, tasks["phq9"]["id"])) == ("open", "done")
    with rt.database.session() as s:
        before = s.scalar(select(func.count()).select_from(Phq9Checkin))
    refused = client.post(
        "/api/v1/checkins/phq9",
        json={"answers": PHQ9, "task_id": tasks["asrm"]["id"]},
        headers=auth.headers(World.pa_phone),
    )
    assert refused.status_code == 422
    assert "asrm" in " ".join(refused.get_json()["errors"]["task_id"])
    with rt.database.session() as s:
        assert s.scalar(select(func.count()).select_from(Phq9Checkin)) == before
    assert _status(rt, tasks["asrm"]["id"]) == "open"


def test_the_post_session_report_may_answer_the_mood_check(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    tasks = _bipolar_after_the_course(client, auth, world, clock)
    response = client.post(
        "/api/v1/symptom-reports",
        json=report_body(asrm=CALM, task_id=tasks["asrm"]["id"]),
        headers=auth.headers(World.pa_phone),
    )
    assert response.status_code == 201, response.get_json()
    assert _status(rt, tasks["asrm"]["id"]) == "done"
