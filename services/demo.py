"""A demo clinic with clinicians and patients, for trying Tandem out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services import clinics, demo_cohort, patients, selfreport, sessions
from services.errors import Forbidden
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


# Fixed demo-only passwords, so the README's copy-paste session works as printed. They are
# safe only because the demo is: its clinic never texts anyone (clinics.demo) and `tandem
# demo` refuses to run in production, where a known password would be an open door.
PASSWORDS = {
    "admin": "demo-admin-password",
    "clinician": "demo-clinician-password",
    "patient": "demo-patient-password",
}

# An acute course of six sessions (about Monday, Wednesday, Friday) ending last week, with
# improving PHQ-9s the day after each, then one maintenance session the day before the demo
# opens: its post-session report and PHQ-9 are due now, the next session is days ahead.
# (days ago of each acute session, per patient: Pat's course is a day later than Sam's)
HISTORY_DAYS_AGO = ((15, 13, 11, 8, 6, 4), (16, 14, 12, 9, 7, 5))
HISTORY_TOTALS = (19, 16, 14, 11, 9, 7)
# How long before the demo each patient's maintenance session started: Pat's PHQ-9 after it
# fell due two hours ago (sessions' PHQ-9s are due a day after the start).
MAINTENANCE_AGO = (timedelta(hours=26), timedelta(hours=50))
HINTS = {
    "admin": "try: GET /api/v1/clinics (the clinics), GET /api/v1/audit (who read what)",
    "clinician": "try: GET /api/v1/escalations (the inbox: urgent, high and routine open), "
    "or /inbox in a browser",
    "patient": "try: GET /api/v1/me/tasks (due now), then POST /api/v1/checkins/phq9",
}


def _answers(total: int) -> list[int]:
    """Nine answers adding up to ``total`` with item 9 at 0 (a calm demo history)."""
    items = []
    for _ in range(8):
        items.append(min(3, total))
        total -= items[-1]
    return [*items, 0]


def _record(session: Session, *, clinician: User, patient: User, started: datetime) -> None:
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


def _history(
    session: Session, *, clinician: User, patient: User, index: int, now: datetime
) -> None:
    """Record past sessions, each acute one followed by the next day's check-in."""
    for days_ago, total in zip(HISTORY_DAYS_AGO[index], HISTORY_TOTALS, strict=True):
        started = (now - timedelta(days=days_ago)).replace(
            hour=14, minute=0, second=0, microsecond=0
        )
        _record(session, clinician=clinician, patient=patient, started=started)
        answered = started + timedelta(days=1, hours=2)
        selfreport.submit_phq9(
            session,
            patient=patient,
            answers=_answers(total),
            difficulty=1,
            answered_at=answered,
            now=answered,
        )
    # The maintenance session: its tasks are left for the patient (and the README) to answer.
    started = (now - MAINTENANCE_AGO[index]).replace(second=0, microsecond=0)
    _record(session, clinician=clinician, patient=patient, started=started)


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


def _logins(session: Session, clinic: Clinic) -> list[tuple[str, str]]:
    """(role label, username) of every demo login, in the order they are printed."""
    staff = session.scalars(
        select(User).where(User.email.like("%@demo.tandem.example")).order_by(User.id)
    ).all()
    out = [
        ("admin" if u.role == "admin" else f"clinician (tier {u.on_call_tier})", u.email or "")
        for u in staff
    ]
    named = {phone for _, phone, *_ in PATIENTS}
    patients_ = session.scalars(
        select(User)
        .where(User.clinic_id == clinic.id, User.role == "patient", User.phone.in_(named))
        .order_by(User.id)
    ).all()
    return out + [("patient", u.phone or "") for u in patients_]


def _print(logins: list[tuple[str, str]]) -> Iterator[str]:
    yield 'Log in with POST /api/v1/auth/login {"username": ..., "password": ...}:'
    for role, username in logins:
        kind = role.split()[0]
        yield f"  {role:22} {username:34} {PASSWORDS[kind]}"
        yield f"      {HINTS[kind]}"


def _staff(session: Session, *, clinic: Clinic, now: datetime) -> list[User]:
    """The demo admin and the clinic's clinicians; returns the clinicians."""
    clinics.create_staff(
        session,
        actor=None,
        role="admin",
        name="Demo Admin",
        email="admin@demo.tandem.example",
        phone=None,
        password=PASSWORDS["admin"],
        clinic_id=None,
        on_call_tier=None,
        now=now,
    )
    return [
        clinics.create_staff(
            session,
            actor=None,
            role="clinician",
            name=name,
            email=email,
            phone=phone,
            password=PASSWORDS["clinician"],
            clinic_id=clinic.id,
            on_call_tier=tier,
            now=now,
        )
        for name, email, phone, tier in CLINICIANS
    ]


def _patients_to_try(session: Session, *, clinician: User, now: datetime) -> list[User]:
    """Enrol Pat and Sam, activated with the demo password and a recent course behind them."""
    enrolled: list[User] = []
    for index, (name, phone, tz, bipolar, weight) in enumerate(PATIENTS):
        profile = patients.enroll_patient(
            session,
            clinician=clinician,
            now=now,
            data={
                "name": name,
                "phone": phone,
                "timezone": tz,
                "bipolar": bipolar,
                "weight_kg": weight,
                "care_team": [clinician.id],
                "screening": ELIGIBLE_SCREENING,
            },
        )
        profile.user.password_hash = hash_secret(PASSWORDS["patient"])
        profile.activated_at = now
        _history(session, clinician=clinician, patient=profile.user, index=index, now=now)
        enrolled.append(profile.user)
    return enrolled


def seed(rt: Runtime) -> Iterator[str]:
    """Create the demo data once; yields the lines to print (the same logins every time)."""
    if rt.settings.is_production:
        raise Forbidden("tandem demo refuses to run in production (its passwords are public).")
    now = rt.clock.now()
    with rt.database.unit_of_work() as session:
        existing = session.scalars(select(Clinic).where(Clinic.name == DEMO_CLINIC)).first()
        if existing is not None:
            yield (
                f"The demo clinic exists already (made {existing.created_at:%Y-%m-%d %H:%M} "
                "UTC): nothing was changed. To start afresh, delete the database file."
            )
            yield from _print(_logins(session, existing))
            return
        clinic = clinics.create_clinic(
            session, actor=None, name=DEMO_CLINIC, timezone="America/New_York", policy=None, now=now
        )
        clinic.demo = True
        staff = _staff(session, clinic=clinic, now=now)
        # The cohort first, so the patients to try (with logins) are the newest: lists show
        # them on their first page.
        cohort = demo_cohort.grow(
            session, clinicians=staff, screening=dict(ELIGIBLE_SCREENING), now=now
        )
        enrolled = _patients_to_try(session, clinician=staff[0], now=now)
        _overnight(session, patients=enrolled, now=now)
        logins = _logins(session, clinic)
        clinic_id = clinic.id
    yield (
        f"Demo clinic created (id {clinic_id}). Nobody is texted: its numbers are fictional "
        "(555-01xx) and its SMS, calls and pages are recorded as cancelled, never sent."
    )
    yield from _print(logins)
    yield (
        f"Plus a cohort of {len(cohort)} patients with up to two years of history "
        f"(seed {demo_cohort.SEED}): GET /api/v1/clinics/{clinic_id}/outcomes shows their report."
    )
    yield "A copy-paste session with curl is at the top of README.md."
