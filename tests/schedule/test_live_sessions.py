"""Live sessions, course length, clinic rule settings and the item 9 re-ask: bad input.

Every refusal is a problem document and leaves stored data exactly as it was.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from schedules import runs
from services.runtime import Runtime
from store.clock import FrozenClock
from store.escalations import Escalation
from store.models import Clinic, OutboxMessage, PatientProfile
from store.reports import Item9Answer
from store.schedule import Task, TreatmentSession, VitalsReading
from tests.support.suite import Auth
from tests.support.world import World

P = "/api/v1"


def snapshot(rt: Runtime) -> dict[str, Any]:
    """Everything these endpoints may write."""
    with rt.database.session() as db:
        counts = {
            m.__tablename__: db.scalar(select(func.count()).select_from(m))
            for m in (TreatmentSession, VitalsReading, Escalation, OutboxMessage, Item9Answer, Task)
        }
        sessions = [
            (s.id, s.status, s.ended_at, s.deviations, s.ketamine_infusion_minutes)
            for s in db.scalars(select(TreatmentSession).order_by(TreatmentSession.id))
        ]
        targets = [
            (p.user_id, p.acute_target_sessions)
            for p in db.scalars(select(PatientProfile).order_by(PatientProfile.user_id))
        ]
        clinics = [
            (c.id, c.escalation_rules, c.escalation_policy)
            for c in db.scalars(select(Clinic).order_by(Clinic.id))
        ]
        tasks = [(t.id, t.status) for t in db.scalars(select(Task).order_by(Task.id))]
    return {
        "counts": counts,
        "sessions": sessions,
        "targets": targets,
        "clinics": clinics,
        "tasks": tasks,
    }


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    return body


def open_live(client: FlaskClient, headers: dict[str, str], patient_id: int, at: str) -> int:
    response = client.post(
        f"{P}/patients/{patient_id}/sessions",
        json={
            "status": "in_progress",
            "started_at": at,
            "ketamine_mg_per_kg": 0.5,
            "ketamine_infusion_minutes": 40,
            "tms_minutes": 30,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    session_id: int = response.get_json()["id"]
    return session_id


@pytest.fixture
def cx1(auth: Auth, world: World) -> dict[str, str]:
    return auth.headers(World.cx1)


@pytest.fixture
def live(client: FlaskClient, cx1: dict[str, str], world: World, clock: FrozenClock) -> int:
    return open_live(
        client, cx1, world.patient_a, (clock.now() - timedelta(minutes=10)).isoformat()
    )


def reading(clock: FrozenClock, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "at": (clock.now() - timedelta(minutes=1)).isoformat(),
        "systolic": 120,
        "diastolic": 80,
        "heart_rate": 72,
        "spo2": 98,
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"systolic": 80, "diastolic": 80}, "systolic"),  # systolic <= diastolic
        ({"systolic": 90, "diastolic": 95}, "systolic"),
        ({"spo2": 101}, "spo2"),
        ({"heart_rate": 0}, "heart_rate"),
        ({"systolic": "120"}, "systolic"),
        ({"at": "yesterday"}, "at"),
    ],
)
def test_out_of_range_readings_are_422(
    client: FlaskClient,
    cx1: dict[str, str],
    live: int,
    rt: Runtime,
    clock: FrozenClock,
    overrides: dict[str, Any],
    field: str,
) -> None:
    before = snapshot(rt)
    response = client.post(
        f"{P}/sessions/{live}/vitals", json=reading(clock, **overrides), headers=cx1
    )
    assert field in problem(response, 422)["errors"]
    assert snapshot(rt) == before


@pytest.mark.parametrize("when", [timedelta(minutes=-11), timedelta(minutes=10)])
def test_a_reading_before_the_start_or_in_the_future_is_422(
    client: FlaskClient,
    cx1: dict[str, str],
    live: int,
    rt: Runtime,
    clock: FrozenClock,
    when: timedelta,
) -> None:
    before = snapshot(rt)
    at = (clock.now() + when).isoformat()
    response = client.post(f"{P}/sessions/{live}/vitals", json=reading(clock, at=at), headers=cx1)
    assert "at" in problem(response, 422)["errors"]
    assert snapshot(rt) == before


def test_a_reading_on_an_ended_or_foreign_session(
    client: FlaskClient,
    cx1: dict[str, str],
    auth: Auth,
    live: int,
    rt: Runtime,
    clock: FrozenClock,
    world: World,
) -> None:
    ended = client.post(f"{P}/sessions/{live}/end", json={}, headers=cx1)
    assert ended.status_code == 200, ended.get_json()
    assert ended.get_json()["status"] == "completed"
    before = snapshot(rt)
    problem(client.post(f"{P}/sessions/{live}/vitals", json=reading(clock), headers=cx1), 409)
    # Another clinic's clinician: not found (its existence is not revealed).
    cy1 = auth.headers(World.cy1)
    foreign = open_live(
        client, cy1, world.patient_c_y, (clock.now() - timedelta(minutes=5)).isoformat()
    )
    before = snapshot(rt)
    problem(client.post(f"{P}/sessions/{foreign}/vitals", json=reading(clock), headers=cx1), 404)
    problem(client.post(f"{P}/sessions/{foreign}/end", json={}, headers=cx1), 404)
    problem(client.post(f"{P}/sessions/987654/vitals", json=reading(clock), headers=cx1), 404)
    assert snapshot(rt) == before


def test_ending_a_session_twice_is_409(
    client: FlaskClient, cx1: dict[str, str], live: int, rt: Runtime
) -> None:
    assert client.post(f"{P}/sessions/{live}/end", json={}, headers=cx1).status_code == 200
    before = snapshot(rt)
    problem(client.post(f"{P}/sessions/{live}/end", json={}, headers=cx1), 409)
    assert snapshot(rt) == before


@pytest.mark.parametrize(
    "body",
    [
        {"ended_at": "2026-01-01T00:00:00+00:00"},  # before the start
        {"ended_at": "2027-01-01T00:00:00+00:00"},  # in the future
        {"ketamine_infusion_minutes": 0},
    ],
)
def test_bad_end_is_422(
    client: FlaskClient, cx1: dict[str, str], live: int, rt: Runtime, body: dict[str, Any]
) -> None:
    before = snapshot(rt)
    problem(client.post(f"{P}/sessions/{live}/end", json=body, headers=cx1), 422)
    assert snapshot(rt) == before


@pytest.mark.parametrize("value", [5, 31, "12", 12.0, None, True])
def test_acute_target_sessions_out_of_range_is_422(
    client: FlaskClient, cx1: dict[str, str], world: World, rt: Runtime, value: object
) -> None:
    before = snapshot(rt)
    response = client.patch(
        f"{P}/patients/{world.patient_a}", json={"acute_target_sessions": value}, headers=cx1
    )
    assert "acute_target_sessions" in problem(response, 422)["errors"]
    assert snapshot(rt) == before


@pytest.mark.parametrize("value", [6, 30])
def test_acute_target_sessions_bounds_are_accepted(
    client: FlaskClient, cx1: dict[str, str], world: World, value: int
) -> None:
    response = client.patch(
        f"{P}/patients/{world.patient_a}", json={"acute_target_sessions": value}, headers=cx1
    )
    assert response.status_code == 200
    got = client.get(f"{P}/patients/{world.patient_a}", headers=cx1).get_json()
    assert got["acute_target_sessions"] == value


def test_deviations_recorded_live_and_back_filled_alike(
    client: FlaskClient, cx1: dict[str, str], world: World, clock: FrozenClock
) -> None:
    start = clock.now() - timedelta(hours=2)
    readings = [(0, 120, 80), (16, 130, 85), (30, 128, 84)]  # 16 minutes apart: a gap
    live = client.post(
        f"{P}/patients/{world.patient_a}/sessions",
        json={
            "status": "in_progress",
            "started_at": start.isoformat(),
            "ketamine_mg_per_kg": 0.6,
            "ketamine_infusion_minutes": 40,
            "tms_minutes": 30,
        },
        headers=cx1,
    ).get_json()
    for minutes, systolic, diastolic in readings:
        at = (start + timedelta(minutes=minutes)).isoformat()
        client.post(
            f"{P}/sessions/{live['id']}/vitals",
            json={"at": at, "systolic": systolic, "diastolic": diastolic, "heart_rate": 70},
            headers=cx1,
        )
    ended = client.post(
        f"{P}/sessions/{live['id']}/end",
        json={"ketamine_infusion_minutes": 65},
        headers=cx1,
    ).get_json()
    back = client.post(
        f"{P}/patients/{world.patient_b}/sessions",
        json={
            "started_at": start.isoformat(),
            "ketamine_mg_per_kg": 0.6,
            "ketamine_infusion_minutes": 65,
            "tms_minutes": 30,
            "vitals": [
                {
                    "at": (start + timedelta(minutes=m)).isoformat(),
                    "systolic": s,
                    "diastolic": d,
                    "heart_rate": 70,
                }
                for m, s, d in readings
            ],
        },
        headers=cx1,
    ).get_json()
    expected = ["vitals_gap", "dose_off_protocol", "infusion_duration"]
    assert ended["deviations"] == expected
    assert back["deviations"] == expected
    listed = client.get(f"{P}/patients/{world.patient_a}/sessions", headers=cx1).get_json()
    assert listed["items"][0]["deviations"] == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"heart_rate": 49}, ("vital_signs", "high")),
        ({"heart_rate": 121}, ("vital_signs", "high")),
        ({"spo2": 91}, ("respiratory", "urgent")),
        ({"systolic": 179, "diastolic": 110}, ("hypertension", "urgent")),
        ({"heart_rate": 50, "spo2": 92, "systolic": 179, "diastolic": 109}, None),
    ],
)
def test_each_live_reading_is_judged_on_arrival(
    client: FlaskClient,
    cx1: dict[str, str],
    live: int,
    clock: FrozenClock,
    values: dict[str, int],
    expected: tuple[str, str] | None,
) -> None:
    body = client.post(
        f"{P}/sessions/{live}/vitals", json=reading(clock, **values), headers=cx1
    ).get_json()
    if expected is None:
        assert body["flags"] == [] and body["escalation"] is None
    else:
        assert (body["escalation"]["kind"], body["escalation"]["priority"]) == expected


def test_pre_dose_at_180_110_is_urgent_before_dosing(
    client: FlaskClient, cx1: dict[str, str], world: World, clock: FrozenClock
) -> None:
    start = clock.now()
    body = client.post(
        f"{P}/patients/{world.patient_a}/sessions",
        json={
            "status": "in_progress",
            "started_at": start.isoformat(),
            "ketamine_mg_per_kg": 0.5,
            "ketamine_infusion_minutes": 40,
            "tms_minutes": 30,
            "vitals": [
                {
                    "at": (start - timedelta(minutes=2)).isoformat(),
                    "systolic": 182,
                    "diastolic": 100,
                    "heart_rate": 80,
                }
            ],
        },
        headers=cx1,
    ).get_json()
    assert (body["escalation"]["kind"], body["escalation"]["priority"]) == (
        "hypertension",
        "urgent",
    )


# --- Clinic rule settings (admin) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"escalation_rules": {"item9_urgent": 3}}, "escalation_rules.item9_urgent"),
        ({"escalation_rules": {"item9_high": 2}}, "escalation_rules.item9_high"),
        (
            {"escalation_rules": {"suicidal_thoughts_urgent": 3}},
            "escalation_rules.suicidal_thoughts_urgent",
        ),
        ({"escalation_rules": {"asrm_cutoff": 7}}, "escalation_rules.asrm_cutoff"),
        ({"escalation_rules": {"systolic_limit": 300}}, "escalation_rules.systolic_limit"),
        ({"escalation_rules": {"diastolic_limit": 200}}, "escalation_rules.diastolic_limit"),
        ({"escalation_rules": {"bogus": 1}}, "escalation_rules.bogus"),
        (
            {"escalation_policy": {"ack_timeout_seconds": {"urgent": 901}}},
            "escalation_policy.ack_timeout_seconds.urgent",
        ),
        (
            {"escalation_policy": {"ack_timeout_seconds": {"high": 3601}}},
            "escalation_policy.ack_timeout_seconds.high",
        ),
        ({"escalation_policy": {"repeat": 0}}, "escalation_policy.repeat"),
    ],
)
def test_a_setting_past_a_safety_floor_is_422_naming_it(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, body: dict[str, Any], field: str
) -> None:
    admin = auth.headers(World.admin)
    before = snapshot(rt)
    patched = client.patch(f"{P}/clinics/{world.clinic_x}", json=body, headers=admin)
    assert field in problem(patched, 422)["errors"]
    created = client.post(
        f"{P}/clinics", json={"name": "New", "timezone": "America/Chicago", **body}, headers=admin
    )
    assert field in problem(created, 422)["errors"]
    assert snapshot(rt) == before


def test_clinic_rules_are_readable_and_stricter_settings_apply(
    client: FlaskClient, auth: Auth, world: World, clock: FrozenClock
) -> None:
    admin = auth.headers(World.admin)
    shown = client.get(f"{P}/clinics/{world.clinic_x}", headers=admin).get_json()
    assert shown["escalation_rules"]["systolic_limit"] == 180
    assert shown["escalation_rules"]["item9_urgent"] == 2
    patched = client.patch(
        f"{P}/clinics/{world.clinic_x}",
        json={"escalation_rules": {"systolic_limit": 160, "item9_urgent": 1}},
        headers=admin,
    )
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["escalation_rules"]["systolic_limit"] == 160
    created = client.post(
        f"{P}/clinics",
        json={
            "name": "Strict",
            "timezone": "America/Chicago",
            "escalation_rules": {"spo2_low": 94},
        },
        headers=admin,
    )
    assert created.status_code == 201
    assert created.get_json()["escalation_rules"]["spo2_low"] == 94
    # The stricter blood-pressure limit now pages at 165/90.
    cx1 = auth.headers(World.cx1)
    session_id = open_live(
        client, cx1, world.patient_a, (clock.now() - timedelta(minutes=5)).isoformat()
    )
    body = client.post(
        f"{P}/sessions/{session_id}/vitals",
        json=reading(clock, systolic=165, diastolic=90),
        headers=cx1,
    ).get_json()
    assert body["escalation"]["kind"] == "hypertension"


def test_openapi_documents_the_rule_defaults(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    rules = spec["components"]["schemas"]["EscalationRules"]["properties"]
    assert rules["systolic_limit"]["default"] == 180
    assert rules["item9_urgent"]["maximum"] == 2
    assert "/api/v1/sessions/{session_id}/vitals" in spec["paths"]
    assert "/api/v1/checkins/phq9-item9" in spec["paths"]


# --- Item 9 skipped: re-ask and its time-out ---------------------------------------------------


def test_item9_skipped_reask_flow(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    me = auth.headers(World.pa_phone)
    skipped = client.post(
        f"{P}/checkins/phq9", json={"answers": [1, 1, 1, 1, 1, 1, 1, 1, None]}, headers=me
    ).get_json()
    assert skipped["crisis_resources"] is not None
    assert skipped["escalation"]["priority"] == "routine"  # total 9 < 15
    tasks = client.get(f"{P}/me/tasks", headers=me).get_json()
    [reask] = [t for t in tasks if t["kind"] == "phq9_item9"]
    assert (
        reask["expires_at"]
        == (clock.now() + timedelta(hours=24)).astimezone(reask_tz(reask)).isoformat()
    )

    before = snapshot(rt)
    for bad in (
        {"task_id": reask["id"], "item9": 4},
        {"task_id": reask["id"]},
        {"task_id": reask["id"], "item9": "1"},
    ):
        problem(client.post(f"{P}/checkins/phq9-item9", json=bad, headers=me), 422)
    assert snapshot(rt) == before
    # Another patient answering this task is refused (404), but what they reported about
    # themselves is theirs and is kept (issue 15: a suicidality signal is never dropped).
    other = auth.headers(World.pb_phone)
    refused = client.post(
        f"{P}/checkins/phq9-item9", json={"task_id": reask["id"], "item9": 1}, headers=other
    )
    assert problem(refused, 404)["safety_signal_recorded"] is True
    with rt.database.session() as session:
        theirs = session.scalars(
            select(Escalation.kind).where(Escalation.patient_id == world.patient_b)
        ).all()
    assert theirs == ["suicidality"]

    answered = client.post(
        f"{P}/checkins/phq9-item9", json={"task_id": reask["id"], "item9": 2}, headers=me
    )
    assert answered.status_code == 201, answered.get_json()
    body = answered.get_json()
    assert body["crisis_resources"] is not None
    assert (body["escalation"]["kind"], body["escalation"]["priority"]) == (
        "suicidality",
        "urgent",
    )
    before = snapshot(rt)
    problem(
        client.post(
            f"{P}/checkins/phq9-item9", json={"task_id": reask["id"], "item9": 0}, headers=me
        ),
        409,
    )
    assert snapshot(rt) == before
    # Answered: the 24-hour time-out raises nothing.
    clock.advance(timedelta(hours=25))
    assert runs.clinical_timers(rt)["item9_reasks_unanswered"] == 0


def reask_tz(task: dict[str, Any]) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(task["expires_at"]).tzinfo


@pytest.mark.parametrize(("hours", "priority"), [(23, "routine"), (24, "high")])
def test_an_unanswered_reask_is_high_after_24_hours(
    client: FlaskClient,
    auth: Auth,
    world: World,
    rt: Runtime,
    clock: FrozenClock,
    hours: int,
    priority: str,
) -> None:
    me = auth.headers(World.pa_phone)
    client.post(f"{P}/checkins/phq9", json={"answers": [1] * 8 + [None]}, headers=me)
    clock.advance(timedelta(hours=hours))
    runs.clinical_timers(rt)
    runs.clinical_timers(rt)  # a rerun changes nothing
    with rt.database.session() as db:
        [escalation] = db.scalars(
            select(Escalation).where(Escalation.kind == "safety_item_unanswered")
        ).all()
        assert escalation.priority == priority


def test_item9_skipped_with_total_15_is_high(client: FlaskClient, auth: Auth, world: World) -> None:
    me = auth.headers(World.pa_phone)
    body = client.post(
        f"{P}/checkins/phq9", json={"answers": [2, 2, 2, 2, 2, 2, 1, 0, None]}, headers=me
    ).get_json()
    assert body["total"] == 15
    assert (body["escalation"]["kind"], body["escalation"]["priority"]) == (
        "safety_item_unanswered",
        "high",
    )


@pytest.mark.parametrize(("days", "flagged"), [(4, False), (5, True)])
def test_acute_pace_broken_after_4_days(
    client: FlaskClient,
    cx1: dict[str, str],
    world: World,
    rt: Runtime,
    clock: FrozenClock,
    days: int,
    flagged: bool,
) -> None:
    client.post(
        f"{P}/patients/{world.patient_a}/sessions",
        json={
            "started_at": clock.now().isoformat(),
            "ketamine_mg_per_kg": 0.5,
            "ketamine_infusion_minutes": 40,
            "tms_minutes": 30,
            "vitals": [],
        },
        headers=cx1,
    )
    clock.advance(timedelta(days=days))
    for _ in range(2):
        runs.clinical_timers(rt)
    with rt.database.session() as db:
        found = db.scalars(
            select(Escalation).where(Escalation.kind == "acute_session_missed")
        ).all()
    assert [(e.priority, e.patient_id) for e in found] == (
        [("routine", world.patient_a)] if flagged else []
    )


def test_settings_stored_before_the_floors_are_held_to_them(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime
) -> None:
    """A clinic saved item 9 thresholds of 3/3 under rules-1: the floors judge instead."""
    with rt.database.unit_of_work() as db:
        clinic = db.get(Clinic, world.clinic_x)
        assert clinic is not None
        clinic.escalation_rules = {"item9_urgent": 3, "item9_high": 3}
        clinic.escalation_policy = {"ack_timeout_seconds": {"urgent": 7200}, "repeat": 0}
    shown = client.get(f"{P}/clinics/{world.clinic_x}", headers=auth.headers(World.admin))
    policy = shown.get_json()["escalation_policy"]
    assert policy["ack_timeout_seconds"]["urgent"] == 900
    assert policy["repeat"] == 1
    body = client.post(
        f"{P}/checkins/phq9",
        json={"answers": [0] * 8 + [2]},
        headers=auth.headers(World.pa_phone),
    ).get_json()
    assert (body["escalation"]["kind"], body["escalation"]["priority"]) == (
        "suicidality",
        "urgent",
    )
