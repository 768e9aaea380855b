"""Enrolment with eligibility screening, and idempotent creates."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from store import Database
from store.models import EligibilityScreening, OutboxMessage, PatientProfile, User
from tests.api.helpers import assert_problem, row_counts
from tests.support.suite import Auth
from tests.support.world import ELIGIBLE_SCREENING, World, patient_body

NEW_PHONE = "+12025550150"

EVERYTHING_WRONG: dict[str, Any] = {
    "failed_antidepressant_trials": 1,
    "prior_inadequate_response": [],
    "baseline": None,
    "medical_clearance": False,
    "cardiovascular_assessment": False,
    "uncontrolled_hypertension": True,
    "active_substance_use_disorder": True,
    "uncontrolled_seizure_disorder": True,
    "active_suicidal_ideation_requiring_intervention": True,
}
EVERY_CRITERION = {
    "screening.failed_antidepressant_trials",
    "screening.prior_inadequate_response",
    "screening.baseline",
    "screening.medical_clearance",
    "screening.cardiovascular_assessment",
    "screening.uncontrolled_hypertension",
    "screening.active_substance_use_disorder",
    "screening.uncontrolled_seizure_disorder",
    "screening.active_suicidal_ideation_requiring_intervention",
}


def screenings(database: Database) -> list[EligibilityScreening]:
    with database.session() as session:
        return list(session.scalars(select(EligibilityScreening).order_by(EligibilityScreening.id)))


def test_an_eligible_patient_is_enrolled(
    client: FlaskClient, auth: Auth, world: World, database: Database
) -> None:
    body = patient_body(
        phone="+1 (202) 555-0150",
        care_team=[world.clinician_x1, world.clinician_x2],
        maintenance_interval_days=7,
        bipolar=True,
        weight_kg=82.5,
    )
    response = client.post("/api/v1/patients", headers=auth.headers(World.cx1), json=body)
    assert response.status_code == 201, response.get_json()
    out = response.get_json()
    assert out["status"] == "enrolled"
    assert out["phone"] == NEW_PHONE and out["clinic_id"] == world.clinic_x
    assert [m["id"] for m in out["care_team"]] == [world.clinician_x1, world.clinician_x2]
    assert out["maintenance_interval_days"] == 7 and out["bipolar"] is True
    assert out["weight_kg"] == 82.5 and out["phase"] == "acute"
    assert out["activated"] is False
    assert out["baseline"] == {"instrument": "PHQ-9", "score": 20}

    record = screenings(database)[-1]
    assert record.eligible is True and record.patient_id == out["id"] and record.unmet == {}
    with database.session() as session:
        profile = session.get_one(PatientProfile, out["id"])
        assert profile.baseline_phq9 == 20 and profile.enrolled_by == world.clinician_x1
        assert session.scalar(select(User.password_hash).where(User.id == out["id"])) is None
    shown = client.get(f"/api/v1/patients/{out['id']}", headers=auth.headers(World.cx1))
    assert shown.get_json().items() >= out.items()


def test_an_ineligible_patient_is_refused_with_every_reason_and_the_screening_kept(
    client: FlaskClient, auth: Auth, world: World, database: Database
) -> None:
    headers = auth.headers(World.cx1)
    before = row_counts(database)
    response = client.post(
        "/api/v1/patients",
        headers=headers,
        json=patient_body(phone=NEW_PHONE, screening=EVERYTHING_WRONG),
    )
    body = assert_problem(response, 422)
    assert set(body["errors"]) == EVERY_CRITERION
    assert all(body["errors"][k] and isinstance(body["errors"][k][0], str) for k in EVERY_CRITERION)

    after = row_counts(database)
    assert after["eligibility_screenings"] == before["eligibility_screenings"] + 1
    assert after["users"] == before["users"] and after["patients"] == before["patients"]
    assert after["sms_outbox"] == before["sms_outbox"]
    assert after["activation_codes"] == before["activation_codes"]
    record = screenings(database)[-1]
    assert record.eligible is False and record.patient_id is None
    assert set(record.unmet) == EVERY_CRITERION
    assert record.screened_by == world.clinician_x1 and record.clinic_id == world.clinic_x
    assert record.answers["failed_antidepressant_trials"] == 1
    with database.session() as session:
        assert session.scalar(select(User.id).where(User.phone == NEW_PHONE)) is None


def test_one_unmet_criterion_is_named_alone(client: FlaskClient, auth: Auth, world: World) -> None:
    for field, value in (
        ("uncontrolled_seizure_disorder", True),
        ("failed_antidepressant_trials", 0),
        ("baseline", {"instrument": "PHQ-9", "score": 40}),
    ):
        screening = {**ELIGIBLE_SCREENING, field: value}
        response = client.post(
            "/api/v1/patients",
            headers=auth.headers(World.cx1),
            json=patient_body(screening=screening),
        )
        body = assert_problem(response, 422)
        assert set(body["errors"]) == {f"screening.{field}"}, body


def test_a_care_team_from_another_clinic_is_refused_and_nothing_stored(
    client: FlaskClient, auth: Auth, world: World, database: Database
) -> None:
    headers = auth.headers(World.cx1)
    before = row_counts(database)
    response = client.post(
        "/api/v1/patients",
        headers=headers,
        json=patient_body(care_team=[world.clinician_y1, 424242]),
    )
    body = assert_problem(response, 422)
    assert len(body["errors"]["care_team"]) == 2
    assert row_counts(database) == before


def test_the_same_idempotency_key_and_body_replays_the_first_answer(
    client: FlaskClient, auth: Auth, world: World, database: Database
) -> None:
    headers = {**auth.headers(World.cx1), "Idempotency-Key": "enrol-7f3a"}
    first = client.post("/api/v1/patients", headers=headers, json=patient_body())
    assert first.status_code == 201
    counts = row_counts(database)
    # The same JSON with other spacing and key order is the same request.
    reordered = dict(reversed(list(patient_body().items())))
    again = client.post(
        "/api/v1/patients",
        headers=headers,
        data=json.dumps(reordered, indent=2),
        content_type="application/json",
    )
    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert row_counts(database) == counts
    with database.session() as session:
        patient_id = session.scalar(select(User.id).where(User.phone == NEW_PHONE))
        assert patient_id == first.get_json()["id"]
        assert len(session.scalars(select(OutboxMessage)).all()) == counts["sms_outbox"]

    other_body = client.post(
        "/api/v1/patients", headers=headers, json=patient_body(name="Someone Else")
    )
    assert_problem(other_body, 409)
    assert row_counts(database) == counts


def test_idempotency_keys_belong_to_one_user(client: FlaskClient, auth: Auth, world: World) -> None:
    key = {"Idempotency-Key": "shared-key"}
    first = client.post(
        "/api/v1/patients",
        headers={**auth.headers(World.cx1), **key},
        json=patient_body(phone="+12025550151"),
    )
    second = client.post(
        "/api/v1/patients",
        headers={**auth.headers(World.cx2), **key},
        json=patient_body(phone="+12025550152"),
    )
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] != second.get_json()["id"]


def test_a_refused_screening_with_a_key_replays_the_refusal(
    client: FlaskClient, auth: Auth, world: World, database: Database
) -> None:
    """The refusal is committed with its screening, so a retry must not hang on the key."""
    headers = {**auth.headers(World.cx1), "Idempotency-Key": "screen-1"}
    body = patient_body(screening=EVERYTHING_WRONG)
    first = client.post("/api/v1/patients", headers=headers, json=body)
    first_body = assert_problem(first, 422)
    counts = row_counts(database)
    again = client.post("/api/v1/patients", headers=headers, json=body)
    assert assert_problem(again, 422) == first_body
    assert row_counts(database) == counts
    assert len(screenings(database)) == counts["eligibility_screenings"]


def test_a_failed_create_with_a_key_can_be_retried(
    client: FlaskClient, auth: Auth, world: World
) -> None:
    headers = {**auth.headers(World.cx1), "Idempotency-Key": "retry-me"}
    refused = client.post(
        "/api/v1/patients", headers=headers, json=patient_body(timezone="Nowhere/Land")
    )
    assert_problem(refused, 422)
    fixed = client.post("/api/v1/patients", headers=headers, json=patient_body())
    assert fixed.status_code == 201


def test_idempotent_clinic_create(
    client: FlaskClient, auth: Auth, world: World, database: Database
) -> None:
    headers = {**auth.headers(World.admin), "Idempotency-Key": "clinic-1"}
    body = {"name": "Clinic Q", "timezone": "Asia/Tokyo"}
    first = client.post("/api/v1/clinics", headers=headers, json=body)
    second = client.post("/api/v1/clinics", headers=headers, json=body)
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] == second.get_json()["id"]
    assert row_counts(database)["clinics"] == 3
