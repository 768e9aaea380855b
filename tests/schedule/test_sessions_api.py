"""POST/GET /api/v1/patients/{id}/sessions: recording, validation, access, hypertension."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from services.runtime import Runtime
from store.clock import FrozenClock
from store.escalations import Escalation, EscalationEvidence
from store.models import Clinic, PatientProfile
from store.schedule import Task, TreatmentSession
from tests.api.helpers import assert_problem, row_counts
from tests.schedule.support import record, session_body
from tests.support.suite import Auth
from tests.support.world import World


def _url(patient_id: int) -> str:
    return f"/api/v1/patients/{patient_id}/sessions"


def test_record_and_list_sessions(
    client: FlaskClient, auth: Auth, world: World, clock: FrozenClock
) -> None:
    headers = auth.headers(World.cx1)
    now = clock.now()
    first = record(client, headers, world.patient_a, now - timedelta(days=4), notes="Calm.")
    assert first["patient_id"] == world.patient_a
    assert first["ketamine_mg_per_kg"] == 0.5
    assert first["ketamine_infusion_minutes"] == 40
    assert first["tms_minutes"] == 30
    assert first["notes"] == "Calm."
    assert first["escalation"] is None
    assert first["vitals"][0]["systolic"] == 128
    latest = record(client, headers, world.patient_a, now - timedelta(hours=1))
    # Back-filled between the two: listed in its place, not by when it was typed in.
    middle = record(client, headers, world.patient_a, now - timedelta(days=2))

    page = client.get(_url(world.patient_a) + "?limit=2", headers=headers).get_json()
    assert [s["id"] for s in page["items"]] == [latest["id"], middle["id"]]
    rest = client.get(
        _url(world.patient_a) + f"?limit=2&cursor={page['next_cursor']}", headers=headers
    ).get_json()
    assert [s["id"] for s in rest["items"]] == [first["id"]]
    assert rest["next_cursor"] is None


def test_bad_cursor_is_422(client: FlaskClient, auth: Auth, world: World) -> None:
    assert_problem(
        client.get(_url(world.patient_a) + "?cursor=nonsense", headers=auth.headers(World.cx1)), 422
    )


def test_cursor_of_another_patient_is_422(
    client: FlaskClient, auth: Auth, world: World, clock: FrozenClock
) -> None:
    headers = auth.headers(World.cx1)
    for hours in (3, 2, 1):
        record(client, headers, world.patient_b, clock.now() - timedelta(hours=hours))
    cursor = client.get(_url(world.patient_b) + "?limit=1", headers=headers).get_json()
    assert_problem(
        client.get(_url(world.patient_a) + f"?cursor={cursor['next_cursor']}", headers=headers), 422
    )


def _reading(**overrides: Any) -> dict[str, Any]:
    reading: dict[str, Any] = {
        "at": "2026-11-02T13:15:00+00:00",
        "systolic": 130,
        "diastolic": 80,
        "heart_rate": 70,
    }
    reading.update(overrides)
    return reading


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"started_at": "2026-11-02T14:10:00+00:00"}, "started_at"),
        ({"started_at": "2026-11-02T13:00:00"}, "started_at"),
        ({"started_at": None}, "started_at"),
        ({"ketamine_mg_per_kg": 0}, "ketamine_mg_per_kg"),
        ({"ketamine_mg_per_kg": -0.5}, "ketamine_mg_per_kg"),
        ({"ketamine_mg_per_kg": 2.5}, "ketamine_mg_per_kg"),
        ({"ketamine_mg_per_kg": "0.5"}, "ketamine_mg_per_kg"),
        ({"ketamine_mg_per_kg": True}, "ketamine_mg_per_kg"),
        ({"ketamine_infusion_minutes": 0}, "ketamine_infusion_minutes"),
        ({"ketamine_infusion_minutes": 241}, "ketamine_infusion_minutes"),
        ({"ketamine_infusion_minutes": 40.5}, "ketamine_infusion_minutes"),
        ({"tms_minutes": 0}, "tms_minutes"),
        ({"tms_minutes": "30"}, "tms_minutes"),
        ({"notes": "x" * 2001}, "notes"),
        ({"vitals": "none"}, "vitals"),
        ({"vitals": [_reading(systolic=80, diastolic=90)]}, "vitals.0.systolic"),
        ({"vitals": [_reading(systolic=90, diastolic=90)]}, "vitals.0.systolic"),
        ({"vitals": [_reading(systolic=301)]}, "vitals.0.systolic"),
        ({"vitals": [_reading(systolic=39)]}, "vitals.0.systolic"),
        ({"vitals": [_reading(diastolic=39)]}, "vitals.0.diastolic"),
        ({"vitals": [_reading(heart_rate=19)]}, "vitals.0.heart_rate"),
        ({"vitals": [_reading(heart_rate=251)]}, "vitals.0.heart_rate"),
        ({"vitals": [_reading(), _reading(at="2026-11-02T14:30:00+00:00")]}, "vitals.1.at"),
        ({"vitals": [_reading(at="2026-11-01T13:15:00+00:00")]}, "vitals.0.at"),
        ({"vitals": [_reading(at="yesterday")]}, "vitals.0.at"),
    ],
)
def test_invalid_sessions_are_422_and_store_nothing(
    client: FlaskClient,
    auth: Auth,
    world: World,
    rt: Runtime,
    overrides: dict[str, Any],
    field: str,
) -> None:
    headers = auth.headers(World.cx1)
    body = session_body(rt.clock.now() - timedelta(hours=1))
    body.update(overrides)
    before = row_counts(rt.database)
    problem = assert_problem(client.post(_url(world.patient_a), json=body, headers=headers), 422)
    assert field in problem["errors"], problem
    after = row_counts(rt.database)
    assert {k: v for k, v in after.items() if k != "auth_sessions"} == {
        k: v for k, v in before.items() if k != "auth_sessions"
    }


@pytest.mark.parametrize(
    "missing",
    ["started_at", "ketamine_mg_per_kg", "ketamine_infusion_minutes", "tms_minutes", "vitals"],
)
def test_required_fields(
    client: FlaskClient, auth: Auth, world: World, clock: FrozenClock, missing: str
) -> None:
    body = session_body(clock.now())
    del body[missing]
    problem = assert_problem(
        client.post(_url(world.patient_a), json=body, headers=auth.headers(World.cx1)), 422
    )
    assert missing in problem["errors"]


def test_small_clock_skew_is_accepted_and_counts_at_once(
    client: FlaskClient, auth: Auth, world: World, clock: FrozenClock, rt: Runtime
) -> None:
    started = clock.now() + timedelta(minutes=3)
    record(client, auth.headers(World.cx1), world.patient_a, started, vitals=[])
    with rt.database.session() as session:
        keys = set(session.scalars(select(Task.key).where(Task.patient_id == world.patient_a)))
    assert any(k.endswith(":symptom_report") for k in keys)


def test_access(client: FlaskClient, auth: Auth, world: World, clock: FrozenClock) -> None:
    body = session_body(clock.now())
    # Another clinic's patient, or no such patient: 404 alike.
    assert_problem(
        client.post(_url(world.patient_c_y), json=body, headers=auth.headers(World.cx1)), 404
    )
    assert_problem(client.get(_url(world.patient_c_y), headers=auth.headers(World.cx1)), 404)
    assert_problem(client.post(_url(999_999), json=body, headers=auth.headers(World.cx1)), 404)
    # Patients and admins do not record sessions; nobody without a token does.
    assert_problem(
        client.post(_url(world.patient_a), json=body, headers=auth.headers(World.pa_phone)), 403
    )
    assert_problem(client.get(_url(world.patient_a), headers=auth.headers(World.pa_phone)), 403)
    assert_problem(
        client.post(_url(world.patient_a), json=body, headers=auth.headers(World.admin)), 403
    )
    assert_problem(client.post(_url(world.patient_a), json=body), 401)


def test_same_start_twice_is_409(
    client: FlaskClient, auth: Auth, world: World, clock: FrozenClock
) -> None:
    headers = auth.headers(World.cx1)
    record(client, headers, world.patient_a, clock.now())
    assert_problem(
        client.post(_url(world.patient_a), json=session_body(clock.now()), headers=headers), 409
    )


def test_idempotent_retry_records_once(
    client: FlaskClient, auth: Auth, world: World, clock: FrozenClock, rt: Runtime
) -> None:
    headers = {**auth.headers(World.cx1), "Idempotency-Key": "session-1"}
    body = session_body(clock.now())
    first = client.post(_url(world.patient_a), json=body, headers=headers)
    second = client.post(_url(world.patient_a), json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.get_json() == second.get_json()
    with rt.database.session() as session:
        assert len(session.scalars(select(TreatmentSession.id)).all()) == 1


def test_hypertension_raises_an_urgent_escalation(
    client: FlaskClient, auth: Auth, world: World, clock: FrozenClock, rt: Runtime
) -> None:
    headers = auth.headers(World.cx1)
    start = clock.now() - timedelta(hours=1)
    normal = record(
        client,
        headers,
        world.patient_a,
        start - timedelta(days=2),
        vitals=[
            {
                "at": (start - timedelta(days=2)).isoformat(),
                "systolic": 179,
                "diastolic": 109,
                "heart_rate": 90,
            }
        ],
    )
    assert normal["escalation"] is None
    high = record(
        client,
        headers,
        world.patient_a,
        start,
        vitals=[
            {"at": start.isoformat(), "systolic": 150, "diastolic": 90, "heart_rate": 80},
            {
                "at": (start + timedelta(minutes=15)).isoformat(),
                "systolic": 185,
                "diastolic": 100,
                "heart_rate": 95,
            },
        ],
    )
    assert high["escalation"]["kind"] == "hypertension"
    assert high["escalation"]["priority"] == "urgent"
    with rt.database.session() as session:
        escalation = session.get(Escalation, high["escalation"]["id"])
        assert escalation is not None and escalation.patient_id == world.patient_a
        evidence = session.scalars(
            select(EscalationEvidence).where(EscalationEvidence.escalation_id == escalation.id)
        ).one()
        assert evidence.source_type == "session" and evidence.source_id == high["id"]
        assert evidence.detail["max_systolic"] == 185


def test_clinic_blood_pressure_limit_applies(
    client: FlaskClient, auth: Auth, world: World, clock: FrozenClock, rt: Runtime
) -> None:
    with rt.database.unit_of_work() as session:
        clinic = session.get(Clinic, world.clinic_x)
        assert clinic is not None
        clinic.escalation_rules = {"systolic_limit": 160, "diastolic_limit": 100}
    start = clock.now() - timedelta(hours=1)
    body = record(
        client,
        auth.headers(World.cx1),
        world.patient_a,
        start,
        vitals=[{"at": start.isoformat(), "systolic": 165, "diastolic": 90, "heart_rate": 80}],
    )
    assert body["escalation"]["kind"] == "hypertension"


def test_backfilled_sessions_before_enrolment_replan_from_the_last(
    client: FlaskClient, auth: Auth, world: World, clock: FrozenClock, rt: Runtime
) -> None:
    headers = auth.headers(World.cx1)
    enrolled = clock.now()
    # Six sessions given before the patient was enrolled in Tandem, typed in afterwards.
    for day in (15, 13, 11, 8, 6, 4):
        record(client, headers, world.patient_a, enrolled - timedelta(days=day))
    with rt.database.session() as session:
        profile = session.get(PatientProfile, world.patient_a)
        assert profile is not None
        assert profile.phase == "maintenance"
        last = enrolled - timedelta(days=4)
        assert profile.maintenance_due_at == last + timedelta(days=3)
        tasks = session.scalars(
            select(Task).where(Task.patient_id == world.patient_a, Task.status == "open")
        ).all()
        # Windows long gone are not asked: only the maintenance session and follow-ups remain
        # (the pre-treatment PHQ-9 closed: treatment started before enrolment).
        assert {t.kind for t in tasks} == {"maintenance_session", "phq9"}
        assert all(t.expires_at > enrolled for t in tasks)
    # A session today re-plans from it.
    record(client, headers, world.patient_a, enrolled - timedelta(hours=2))
    with rt.database.session() as session:
        profile = session.get(PatientProfile, world.patient_a)
        assert profile is not None
        assert profile.maintenance_due_at == enrolled - timedelta(hours=2) + timedelta(days=3)
