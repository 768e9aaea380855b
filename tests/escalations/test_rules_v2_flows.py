"""Clinical rules, second version, played through the HTTP API (issue 11, "Done when").

Pages go through the outbox and the real Twilio SDK to the local stand-in.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from clinical.calendar import add_months
from notifications import texts
from notifications.outbox import DispatcherWorker
from schedules import runs
from services.runtime import Runtime
from store.clock import FrozenClock
from store.escalations import Escalation
from store.schedule import Task, TreatmentSession
from tests.escalations.support import TwilioStandIn
from tests.support.suite import Auth
from tests.support.world import World, patient_body

X1 = "+12025550101"
NEW_PHONE = "+12025550170"
PASSWORD = "another correct horse battery"
CODE = re.compile(r"\b(\d{6})\b")


def answers_for(total: int) -> list[int]:
    """Nine answers (item 9 = 0) summing to `total` (at most 24)."""
    items = [3] * (total // 3) + ([total % 3] if total % 3 else [])
    return [*items, *[0] * (9 - len(items))]


def enrol_and_activate(
    client: FlaskClient,
    rt: Runtime,
    standin: TwilioStandIn,
    *,
    baseline: dict[str, Any],
    phone: str = NEW_PHONE,
) -> tuple[int, dict[str, str]]:
    """A patient enrolled by clinician x1 and activated with the SMS code; (id, headers)."""
    headers = Auth(client).headers(World.cx1)
    body = patient_body(phone=phone, care_team=[])
    body["screening"] = {**body["screening"], "baseline": baseline}
    response = client.post("/api/v1/patients", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    patient_id: int = response.get_json()["id"]
    rt.dispatcher.drain()
    sent = [r["Body"] for r in standin.received if r["To"] == phone]
    match = CODE.search(sent[-1])
    assert match, sent
    activated = client.post(
        "/api/v1/auth/activate", json={"phone": phone, "code": match.group(1), "password": PASSWORD}
    )
    assert activated.status_code == 200, activated.get_json()
    return patient_id, {"Authorization": f"Bearer {activated.get_json()['access_token']}"}


def record_session(client: FlaskClient, patient_id: int, started_at: str, **extra: Any) -> Any:
    body = {
        "started_at": started_at,
        "ketamine_mg_per_kg": 0.5,
        "ketamine_infusion_minutes": 40,
        "tms_minutes": 30,
        "vitals": [],
        **extra,
    }
    response = client.post(
        f"/api/v1/patients/{patient_id}/sessions",
        json=body,
        headers=Auth(client).headers(World.cx1),
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_madrs_baseline_patient_is_measured_from_the_pre_treatment_phq9(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    clock: FrozenClock,
    standin: TwilioStandIn,
) -> None:
    client = twilio_client
    patient_id, me = enrol_and_activate(
        client, twilio_rt, standin, baseline={"instrument": "MADRS", "score": 32}
    )
    tasks = client.get("/api/v1/me/tasks", headers=me).get_json()
    [pre] = [t for t in tasks if t["reason"] == "PHQ-9 before treatment starts"]
    assert pre["kind"] == "phq9"

    first = client.post(
        "/api/v1/checkins/phq9", json={"answers": answers_for(16), "task_id": pre["id"]}, headers=me
    ).get_json()
    assert first["outcome"]["baseline"] == 16
    assert first["outcome"]["baseline_source"] == "pre_treatment_phq9"

    clock.advance(timedelta(hours=2))
    record_session(client, patient_id, clock.now().isoformat())
    clock.advance(timedelta(days=1))
    after = client.post(
        "/api/v1/checkins/phq9", json={"answers": answers_for(8)}, headers=me
    ).get_json()
    assert after["change_from_baseline"] == {"points": -8, "percent": -50.0}
    assert after["outcome"]["response"] is True
    assert after["outcome"]["remission"] is False
    detail = client.get(
        f"/api/v1/patients/{patient_id}", headers=Auth(client).headers(World.cx1)
    ).get_json()
    assert detail["outcome"]["baseline"] == 16
    assert detail["outcome"]["response"] is True
    assert detail["outcome"]["version"] == "outcomes-2"


def test_a_live_reading_at_186_104_pages_within_seconds(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    clock: FrozenClock,
    standin: TwilioStandIn,
) -> None:
    client, clinician = twilio_client, Auth(twilio_client).headers(World.cx1)
    twilio_rt.dispatcher.drain()
    standin.received.clear()
    start = clock.now()
    opened = client.post(
        f"/api/v1/patients/{world.patient_a}/sessions",
        json={
            "status": "in_progress",
            "started_at": start.isoformat(),
            "ketamine_mg_per_kg": 0.5,
            "ketamine_infusion_minutes": 40,
            "tms_minutes": 30,
            "vitals": [
                {
                    "at": (start - timedelta(minutes=5)).isoformat(),
                    "systolic": 150,
                    "diastolic": 92,
                    "heart_rate": 80,
                }
            ],
        },
        headers=clinician,
    )
    assert opened.status_code == 201, opened.get_json()
    session = opened.get_json()
    assert session["status"] == "in_progress"
    assert session["escalation"] is None
    assert [w["code"] for w in session["warnings"]] == ["pre_dose_blood_pressure"]

    worker = DispatcherWorker(twilio_rt.dispatcher, sweep_seconds=60, listen=False)
    worker.start()
    try:
        clock.advance(timedelta(minutes=15))
        began = time.monotonic()
        reading = client.post(
            f"/api/v1/sessions/{session['id']}/vitals",
            json={
                "at": clock.now().isoformat(),
                "systolic": 186,
                "diastolic": 104,
                "heart_rate": 88,
                "spo2": 97,
            },
            headers=clinician,
        )
        assert reading.status_code == 201, reading.get_json()
        body = reading.get_json()
        assert body["flags"] == ["hypertension"]
        assert (body["escalation"]["kind"], body["escalation"]["priority"]) == (
            "hypertension",
            "urgent",
        )
        with standin.arrived:
            standin.arrived.wait_for(lambda: len(standin.received) >= 1, timeout=5)
        elapsed = time.monotonic() - began
    finally:
        worker.stop()
    assert [r["To"] for r in standin.received] == [X1]
    assert f"Escalation {body['escalation']['id']}" in standin.received[0]["Body"]
    assert elapsed < 5, f"page took {elapsed:.2f} s"


def test_a_25_minute_silence_texts_the_nurse_once(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    clock: FrozenClock,
    standin: TwilioStandIn,
) -> None:
    client, clinician = twilio_client, Auth(twilio_client).headers(World.cx2)
    twilio_rt.dispatcher.drain()
    standin.received.clear()
    start = clock.now()
    opened = client.post(
        f"/api/v1/patients/{world.patient_a}/sessions",
        json={
            "status": "in_progress",
            "started_at": start.isoformat(),
            "ketamine_mg_per_kg": 0.5,
            "ketamine_infusion_minutes": 40,
            "tms_minutes": 30,
        },
        headers=clinician,
    ).get_json()
    clock.advance(timedelta(minutes=5))
    client.post(
        f"/api/v1/sessions/{opened['id']}/vitals",
        json={"at": clock.now().isoformat(), "systolic": 128, "diastolic": 82, "heart_rate": 76},
        headers=clinician,
    )
    clock.advance(timedelta(minutes=20))  # exactly 20 minutes old: not yet
    assert runs.clinical_timers(twilio_rt)["readings_overdue"] == 0
    clock.advance(timedelta(minutes=5))  # 25 minutes of silence
    assert runs.clinical_timers(twilio_rt)["readings_overdue"] == 1
    for _ in range(3):  # reruns (or a second scheduler) text nobody again
        clock.advance(timedelta(minutes=2))
        assert runs.clinical_timers(twilio_rt)["readings_overdue"] == 0
    twilio_rt.dispatcher.drain()
    # The clinician who opened the session (x2), once, with no clinical content.
    assert [(r["To"], r["Body"]) for r in standin.received] == [
        ("+12025550102", texts.reading_due())
    ]
    with twilio_rt.database.session() as db:
        overdue = db.scalars(select(Escalation).where(Escalation.kind == "vitals_overdue")).all()
        assert [(e.priority, e.patient_id) for e in overdue] == [("routine", world.patient_a)]


def test_a_12_session_course_plans_completion_and_follow_up_from_session_12(
    twilio_client: FlaskClient, twilio_rt: Runtime, world: World, clock: FrozenClock
) -> None:
    client, clinician = twilio_client, Auth(twilio_client).headers(World.cx1)
    patched = client.patch(
        f"/api/v1/patients/{world.patient_a}",
        json={"acute_target_sessions": 12},
        headers=clinician,
    )
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["acute_target_sessions"] == 12
    ids = []
    for number in range(1, 13):
        ids.append(record_session(client, world.patient_a, clock.now().isoformat())["id"])
        if number == 6:
            with twilio_rt.database.session() as db:
                keys = set(db.scalars(select(Task.key).where(Task.patient_id == world.patient_a)))
            assert "course_completion:phq9" not in keys  # 6 of 12: still acute
        clock.advance(timedelta(days=2, hours=8))
    with twilio_rt.database.session() as db:
        twelfth = db.get(TreatmentSession, ids[-1])
        assert twelfth is not None
        tasks = {
            t.key: t
            for t in db.scalars(select(Task).where(Task.patient_id == world.patient_a)).all()
        }
    completion = tasks["course_completion:phq9"]
    assert completion.session_id == ids[-1]
    assert tasks["followup:24m:phq9"].due_at == add_months(twelfth.started_at, 24)
    assert tasks["followup:1m:phq9"].due_at == add_months(twelfth.started_at, 1)


def test_a_course_stopped_early_follows_up_from_its_last_session(
    twilio_client: FlaskClient, twilio_rt: Runtime, world: World, clock: FrozenClock
) -> None:
    client, clinician = twilio_client, Auth(twilio_client).headers(World.cx1)
    client.patch(
        f"/api/v1/patients/{world.patient_a}", json={"acute_target_sessions": 12}, headers=clinician
    )
    ids = []
    for _ in range(4):
        ids.append(record_session(client, world.patient_a, clock.now().isoformat())["id"])
        clock.advance(timedelta(days=2))
    stopped = client.patch(
        f"/api/v1/patients/{world.patient_a}", json={"phase": "maintenance"}, headers=clinician
    )
    assert stopped.status_code == 200
    with twilio_rt.database.session() as db:
        last = db.get(TreatmentSession, ids[-1])
        assert last is not None
        tasks = {
            t.key: t
            for t in db.scalars(select(Task).where(Task.patient_id == world.patient_a)).all()
        }
    assert tasks["course_completion:phq9"].session_id == ids[-1]
    assert tasks["followup:24m:phq9"].due_at == add_months(last.started_at, 24)


def test_baseline_12_then_5_then_14_rechecks_and_only_a_second_bad_total_pages(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    clock: FrozenClock,
    standin: TwilioStandIn,
) -> None:
    client = twilio_client
    patient_id, me = enrol_and_activate(
        client, twilio_rt, standin, baseline={"instrument": "PHQ-9", "score": 12}
    )
    record_session(client, patient_id, clock.now().isoformat())
    clock.advance(timedelta(days=1))
    standin.received.clear()

    better = client.post("/api/v1/checkins/phq9", json={"answers": answers_for(5)}, headers=me)
    assert better.get_json()["outcome"]["response"] is True
    clock.advance(timedelta(days=2))
    worse = client.post(
        "/api/v1/checkins/phq9", json={"answers": answers_for(14)}, headers=me
    ).get_json()
    # 14 is also 2 above baseline 12 and 9 above the previous 5: worsening too (routine).
    assert set(worse["flags"]) == {"relapse", "worsening"}
    assert worse["escalation"]["priority"] == "routine"
    inbox = client.get(
        "/api/v1/escalations?kind=relapse", headers=Auth(client).headers(World.cx1)
    ).get_json()["items"]
    assert [(e["patient_id"], e["priority"]) for e in inbox] == [(patient_id, "routine")]
    assert worse["outcome"]["relapse_status"] == "recheck"
    twilio_rt.dispatcher.drain()
    assert standin.received == []  # one bad total: the inbox, not a page

    tasks = client.get("/api/v1/me/tasks", headers=me).get_json()
    [recheck] = [t for t in tasks if t["reason"] == "PHQ-9 re-check"]
    assert recheck["kind"] == "phq9"
    clock.advance(timedelta(hours=20))
    again = client.post(
        "/api/v1/checkins/phq9",
        json={"answers": answers_for(11), "task_id": recheck["id"]},
        headers=me,
    ).get_json()
    assert again["outcome"]["relapse_status"] == "confirmed"
    assert (again["escalation"]["kind"], again["escalation"]["priority"]) == ("relapse", "high")
    twilio_rt.dispatcher.drain()
    assert [r["To"] for r in standin.received] == [X1]
    assert f"Escalation {again['escalation']['id']}" in standin.received[0]["Body"]


def test_a_recheck_that_is_a_response_again_pages_nobody(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    clock: FrozenClock,
    standin: TwilioStandIn,
) -> None:
    client = twilio_client
    patient_id, me = enrol_and_activate(
        client, twilio_rt, standin, baseline={"instrument": "PHQ-9", "score": 12}
    )
    record_session(client, patient_id, clock.now().isoformat())
    clock.advance(timedelta(days=1))
    standin.received.clear()
    for total in (5, 14, 6):
        body = client.post(
            "/api/v1/checkins/phq9", json={"answers": answers_for(total)}, headers=me
        ).get_json()
        clock.advance(timedelta(hours=12))
    assert body["outcome"]["relapse_status"] == "none"
    twilio_rt.dispatcher.drain()
    assert standin.received == []
