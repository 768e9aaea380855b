"""A demo clinic with clinicians and patients, for trying Tandem out."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services import clinics, demo_cohort, patients, selfreport, sessions
from services.passwords import hash_secret
from services.runtime import Runtime
from store.models import Clinic, User

DEMO_CLINIC = "Tandem Demo Clinic"
# Fictional numbers only (the 555-01xx range).
CLINICIANS = (
    ("Dr. Ada Rivera", "ada.rivera@demo.tandem.example", "+12025550101", 1),
    ("Dr. Ben Okafor", "ben.okafor@demo.tandem.example", "+12025550102", 2),
    ("Dr. Chen Wu", "chen.wu@demo.tandem.example", "+12025550103", 3),
)
PATIENTS = (
    ("Pat Demo", "+12025550111", "America/New_York", False, 72.5),
    ("Sam Demo", "+12025550112", "America/Chicago", True, 81.0),
)
ELIGIBLE_SCREENING = {
    "failed_antidepressant_trials": 3,
    "prior_inadequate_response": ["tms"],
    "baseline": {"instrument": "PHQ-9", "score": 21},
    "medical_clearance": True,
    "cardiovascular_assessment": True,
    "uncontrolled_hypertension": False,
    "active_substance_use_disorder": False,
    "uncontrolled_seizure_disorder": False,
    "active_suicidal_ideation_requiring_intervention": False,
}


# Three weeks of an acute course: Monday, Wednesday and Friday sessions, improving PHQ-9s.
HISTORY_DAYS_AGO = (20, 18, 16, 13, 11, 9)
HISTORY_TOTALS = (19, 16, 14, 11, 9, 7)


def _answers(total: int) -> list[int]:
    """Nine answers adding up to ``total`` with item 9 at 0 (a calm demo history)."""
    items = []
    for _ in range(8):
        items.append(min(3, total))
        total -= items[-1]
    return [*items, 0]


def _history(session: Session, *, clinician: User, patient: User, now: datetime) -> None:
    """Record past sessions, each followed by the next day's check-in."""
    for days_ago, total in zip(HISTORY_DAYS_AGO, HISTORY_TOTALS, strict=True):
        started = (now - timedelta(days=days_ago)).replace(
            hour=14, minute=0, second=0, microsecond=0
        )
        sessions.record_session(
            session,
            clinician=clinician,
            patient_id=patient.id,
            now=started + timedelta(hours=2),
            data={
                "started_at": started,
                "ketamine_mg_per_kg": 0.5,
                "ketamine_infusion_minutes": 40,
                "tms_minutes": 30,
                "vitals": [
                    {
                        "at": started + timedelta(minutes=15 * i),
                        "systolic": 128 + i,
                        "diastolic": 82,
                        "heart_rate": 74,
                    }
                    for i in range(4)
                ],
            },
        )
        answered = started + timedelta(days=1, hours=2)
        selfreport.submit_phq9(
            session,
            patient=patient,
            answers=_answers(total),
            difficulty=1,
            answered_at=answered,
            now=answered,
        )


# Overnight, before the demo opens: Sam (bipolar) answers item 9 and scores higher on the
# ASRM, Pat's depression comes back a little. The inbox then has open escalations to work.
OVERNIGHT: tuple[tuple[int, timedelta, list[int], list[int] | None], ...] = (
    (1, timedelta(hours=7), [2, 2, 1, 2, 1, 1, 1, 1, 1], [2, 2, 1, 2, 1]),
    (0, timedelta(hours=3), [2, 2, 2, 1, 1, 1, 1, 2, 0], None),
)


def _overnight(session: Session, *, patients: list[User], now: datetime) -> None:
    for index, ago, answers, asrm in OVERNIGHT:
        selfreport.submit_phq9(
            session,
            patient=patients[index],
            answers=answers,
            difficulty=1,
            answered_at=now - ago,
            asrm=asrm,
            now=now - ago,
        )


def seed(rt: Runtime) -> Iterator[str]:
    """Create the demo data once; yields the lines to print (with fresh passwords)."""
    now = rt.clock.now()
    with rt.database.unit_of_work() as session:
        if session.scalars(select(Clinic).where(Clinic.name == DEMO_CLINIC)).first():
            yield "The demo clinic exists already; its passwords were printed when it was made."
            return
        clinic = clinics.create_clinic(
            session, actor=None, name=DEMO_CLINIC, timezone="America/New_York", policy=None, now=now
        )
        logins: list[tuple[str, str, str]] = []
        admin_password = secrets.token_urlsafe(12)
        clinics.create_staff(
            session,
            actor=None,
            role="admin",
            name="Demo Admin",
            email="admin@demo.tandem.example",
            phone=None,
            password=admin_password,
            clinic_id=None,
            on_call_tier=None,
            now=now,
        )
        logins.append(("admin", "admin@demo.tandem.example", admin_password))
        staff: list[User] = []
        enrolled: list[User] = []
        for name, email, phone, tier in CLINICIANS:
            password = secrets.token_urlsafe(12)
            staff.append(
                clinics.create_staff(
                    session,
                    actor=None,
                    role="clinician",
                    name=name,
                    email=email,
                    phone=phone,
                    password=password,
                    clinic_id=clinic.id,
                    on_call_tier=tier,
                    now=now,
                )
            )
            logins.append((f"clinician (tier {tier})", email, password))
        for name, phone, tz, bipolar, weight in PATIENTS:
            profile = patients.enroll_patient(
                session,
                clinician=staff[0],
                now=now,
                data={
                    "name": name,
                    "phone": phone,
                    "timezone": tz,
                    "bipolar": bipolar,
                    "weight_kg": weight,
                    "care_team": [staff[0].id],
                    "screening": ELIGIBLE_SCREENING,
                },
            )
            password = secrets.token_urlsafe(12)
            profile.user.password_hash = hash_secret(password)
            profile.activated_at = now
            logins.append(("patient", phone, password))
            _history(session, clinician=staff[0], patient=profile.user, now=now)
            enrolled.append(profile.user)
        cohort = demo_cohort.grow(
            session, clinicians=staff, screening=dict(ELIGIBLE_SCREENING), now=now
        )
        _overnight(session, patients=enrolled, now=now)
    yield "Demo clinic created. Log in at POST /api/v1/auth/login with:"
    for role, username, password in logins:
        yield f"  {role:22} {username:34} {password}"
    yield (
        f"Plus a cohort of {len(cohort)} patients with up to two years of history "
        f"(seed {demo_cohort.SEED}): GET /api/v1/clinics/{{id}}/outcomes shows their report."
    )
