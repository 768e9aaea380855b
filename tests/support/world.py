"""A small, fully formed world of clinics, clinicians and patients for tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from services import clinics, patients
from services.passwords import hash_secret
from services.runtime import Runtime

ELIGIBLE_SCREENING: dict[str, Any] = {
    "failed_antidepressant_trials": 2,
    "prior_inadequate_response": ["ketamine"],
    "baseline": {"instrument": "PHQ-9", "score": 20},
    "medical_clearance": True,
    "cardiovascular_assessment": True,
    "uncontrolled_hypertension": False,
    "active_substance_use_disorder": False,
    "uncontrolled_seizure_disorder": False,
    "active_suicidal_ideation_requiring_intervention": False,
}


def patient_body(**overrides: Any) -> dict[str, Any]:
    """A valid enrolment body (fictional 555-01xx phone)."""
    body: dict[str, Any] = {
        "name": "Test Patient",
        "phone": "+12025550150",
        "timezone": "America/New_York",
        "bipolar": False,
        "weight_kg": 70.0,
        "care_team": [],
        "screening": dict(ELIGIBLE_SCREENING),
    }
    body.update(overrides)
    return body


@dataclass
class World:
    PASSWORD: ClassVar[str] = "correct horse battery"

    admin_id: int
    clinic_x: int
    clinic_y: int
    clinician_x1: int
    clinician_x2: int
    clinician_x3: int
    clinician_y1: int
    patient_a: int
    patient_b: int
    patient_c_y: int

    admin = "admin@tandem.test"
    cx1 = "x1@tandem.test"
    cx2 = "x2@tandem.test"
    cx3 = "x3@tandem.test"
    cy1 = "y1@tandem.test"
    pa_phone = "+12025550131"
    pb_phone = "+12025550132"
    pc_phone = "+12025550133"


def build_world(rt: Runtime) -> World:
    now = rt.clock.now()
    ids: dict[str, int] = {}
    with rt.database.unit_of_work() as s:
        ids["admin_id"] = clinics.create_staff(
            s,
            actor=None,
            role="admin",
            name="Admin",
            email=World.admin,
            phone=None,
            password=World.PASSWORD,
            clinic_id=None,
            on_call_tier=None,
            now=now,
        ).id
        x = clinics.create_clinic(
            s, actor=None, name="Clinic X", timezone="America/New_York", policy=None, now=now
        )
        y = clinics.create_clinic(
            s, actor=None, name="Clinic Y", timezone="Europe/London", policy=None, now=now
        )
        ids["clinic_x"], ids["clinic_y"] = x.id, y.id
        staff = {}
        for key, email, phone, clinic, tier in (
            ("clinician_x1", World.cx1, "+12025550101", x.id, 1),
            ("clinician_x2", World.cx2, "+12025550102", x.id, 2),
            ("clinician_x3", World.cx3, "+12025550103", x.id, 3),
            ("clinician_y1", World.cy1, "+12025550104", y.id, 1),
        ):
            staff[key] = clinics.create_staff(
                s,
                actor=None,
                role="clinician",
                name=key,
                email=email,
                phone=phone,
                password=World.PASSWORD,
                clinic_id=clinic,
                on_call_tier=tier,
                now=now,
            )
            # The world's clinicians chose SMS only, so the suite's page counts stay about
            # texts; tests/oncall/ covers the default (a call after 5 minutes of urgent).
            staff[key].notify = [{"channel": "sms", "after_minutes": 0}]
            ids[key] = staff[key].id
        for key, phone, clinician in (
            ("patient_a", World.pa_phone, staff["clinician_x1"]),
            ("patient_b", World.pb_phone, staff["clinician_x1"]),
            ("patient_c_y", World.pc_phone, staff["clinician_y1"]),
        ):
            profile = patients.enroll_patient(
                s,
                clinician=clinician,
                now=now,
                data=patient_body(name=key, phone=phone, care_team=[clinician.id]),
            )
            profile.user.password_hash = hash_secret(World.PASSWORD)
            profile.activated_at = now
            ids[key] = profile.user_id
    return World(**ids)
