"""Enrolment and the clinician's management of patients."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from clinical import calendar, eligibility, rules
from notifications import texts
from notifications.outbox import enqueue_sms
from services import audit, escalations, schedule
from services.auth import new_activation_code
from services.clinics import ensure_unique_contact
from services.errors import Invalid, NotFound
from services.pagination import Page, paginate
from store.models import Clinic, EligibilityScreening, PatientProfile, Role, User

ACTIVATION_PURPOSE = "activation"
SCREENING_VERSION = "eligibility-1"
PHASES = calendar.PHASES
# Changes that move the calendar: the interval, the phase, reminder times (zone), ASRM tasks.
REPLAN_FIELDS = frozenset(
    {"maintenance_interval_days", "phase", "timezone", "bipolar", "acute_target_sessions"}
)


def _care_team(session: Session, *, clinic_id: int, ids: Sequence[int]) -> list[User]:
    """The clinicians named, all of this clinic; 422 naming the others."""
    wanted = list(dict.fromkeys(ids))
    found = {
        u.id: u
        for u in session.scalars(
            select(User).where(
                User.id.in_(wanted),
                User.role == Role.CLINICIAN,
                User.clinic_id == clinic_id,
                User.deleted_at.is_(None),
            )
        )
    }
    unknown = [i for i in wanted if i not in found]
    if unknown:
        raise Invalid({"care_team": [f"No clinician {i} in your clinic." for i in unknown]})
    return [found[i] for i in wanted]


def screening_from(raw: Mapping[str, Any]) -> eligibility.Screening:
    """The clinical screening value from the contract's ``screening`` object."""
    baseline = raw.get("baseline") or {}
    return eligibility.Screening(
        failed_antidepressant_trials=raw["failed_antidepressant_trials"],
        prior_inadequate_response=tuple(raw["prior_inadequate_response"]),
        baseline_instrument=baseline.get("instrument"),
        baseline_score=baseline.get("score"),
        medical_clearance=raw["medical_clearance"],
        cardiovascular_assessment=raw["cardiovascular_assessment"],
        uncontrolled_hypertension=raw["uncontrolled_hypertension"],
        active_substance_use_disorder=raw["active_substance_use_disorder"],
        uncontrolled_seizure_disorder=raw["uncontrolled_seizure_disorder"],
        active_suicidal_ideation_requiring_intervention=raw[
            "active_suicidal_ideation_requiring_intervention"
        ],
    )


def enroll_patient(
    session: Session,
    *,
    clinician: User,
    data: Mapping[str, Any],
    now: datetime,
) -> PatientProfile:
    """Screen, record the screening, create the patient and queue the activation SMS."""
    assert clinician.clinic_id is not None
    clinic_id = clinician.clinic_id
    if data.get("clinic_id") not in (None, clinic_id):
        raise NotFound("No such clinic.")
    screening = screening_from(data["screening"])
    record = _record_screening(session, clinician=clinician, screening=screening, now=now)
    phone = data["phone"]
    ensure_unique_contact(session, email=None, phone=phone)
    care_team = _care_team(session, clinic_id=clinic_id, ids=data.get("care_team") or [])
    user = User(
        role=Role.PATIENT,
        clinic_id=clinic_id,
        name=data["name"],
        phone=phone,
        password_hash=None,
        is_active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    profile = PatientProfile(
        user_id=user.id,
        clinic_id=clinic_id,
        timezone=data["timezone"],
        bipolar=data["bipolar"],
        weight_kg=data["weight_kg"],
        phase=calendar.ACUTE,
        maintenance_interval_days=data.get(
            "maintenance_interval_days", calendar.DEFAULT_MAINTENANCE_INTERVAL_DAYS
        ),
        acute_target_sessions=data.get("acute_target_sessions", calendar.ACUTE_MIN_SESSIONS),
        status="enrolled",
        enrolled_at=now,
        enrolled_by=clinician.id,
        baseline_phq9=eligibility.baseline_phq9(screening),
        baseline_instrument=screening.baseline_instrument,
        baseline_score=screening.baseline_score,
    )
    profile.care_team = care_team
    session.add(profile)
    record.patient_id = user.id
    code = new_activation_code(session, user=user, now=now)
    enqueue_sms(
        session,
        to=phone,
        body=texts.activation_code(code),
        purpose=ACTIVATION_PURPOSE,
        recipient_id=user.id,
        now=now,
    )
    session.flush()
    schedule.replan_patient(session, patient=profile, now=now)
    schedule.open_pre_treatment_task(session, patient=profile, now=now)
    audit.record(
        session,
        actor=clinician,
        action="patient.enroll",
        target_type="patient",
        target_id=user.id,
        now=now,
    )
    return profile


def _record_screening(
    session: Session, *, clinician: User, screening: eligibility.Screening, now: datetime
) -> EligibilityScreening:
    """Screen under the clinic's thresholds and record it; 422 (the record kept) if ineligible."""
    assert clinician.clinic_id is not None
    clinic_id = clinician.clinic_id
    clinic = session.get(Clinic, clinic_id)
    thresholds = escalations.clinic_rules(clinic) if clinic is not None else rules.DEFAULTS
    result = eligibility.screen(
        screening,
        min_phq9=thresholds.eligibility_min_phq9,
        min_madrs=thresholds.eligibility_min_madrs,
    )
    record = EligibilityScreening(
        clinic_id=clinic_id,
        screened_by=clinician.id,
        answers=_jsonable(asdict(screening)),
        eligible=result.eligible,
        unmet={k: list(v) for k, v in result.unmet.items()},
        rules_version=SCREENING_VERSION,
        screened_at=now,
    )
    session.add(record)
    if not result.eligible:
        session.flush()
        audit.record(
            session,
            actor=clinician,
            action="screening.ineligible",
            target_type="screening",
            target_id=record.id,
            now=now,
        )
        raise Invalid(
            {k: list(v) for k, v in result.unmet.items()},
            "The patient does not meet the protocol's eligibility criteria; "
            "the screening was recorded.",
            keep_changes=True,
        )
    return record


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def resend_activation(session: Session, *, clinician: User, patient_id: int, now: datetime) -> None:
    """Send the patient a new one-time code (first activation, or a lost password)."""
    profile = get_patient(session, viewer=clinician, patient_id=patient_id)
    code = new_activation_code(session, user=profile.user, now=now)
    assert profile.user.phone is not None
    enqueue_sms(
        session,
        to=profile.user.phone,
        body=texts.activation_code(code),
        purpose=ACTIVATION_PURPOSE,
        recipient_id=profile.user_id,
        now=now,
    )
    audit.record(
        session,
        actor=clinician,
        action="patient.activation_resent",
        target_type="patient",
        target_id=patient_id,
        now=now,
    )


def get_patient(session: Session, *, viewer: User, patient_id: int) -> PatientProfile:
    """A patient of the viewer's clinic (404 for any other)."""
    profile = session.get(PatientProfile, patient_id)
    if profile is None or profile.clinic_id != viewer.clinic_id:
        raise NotFound("No such patient.")
    return profile


def list_patients(
    session: Session,
    *,
    viewer: User,
    limit: int,
    cursor: str | None,
    now: datetime | None = None,
) -> Page[PatientProfile]:
    """A page of the clinic's patients; each one shown is an audited read."""
    query = (
        select(PatientProfile)
        .where(PatientProfile.clinic_id == viewer.clinic_id)
        # One query per relationship for the whole page, not one per patient.
        .options(selectinload(PatientProfile.user), selectinload(PatientProfile.care_team))
    )
    page = paginate(session, query, key=PatientProfile.user_id, limit=limit, cursor=cursor)
    audit.record_reads(
        session,
        actor=viewer,
        what="patient",
        patient_ids=[p.user_id for p in page.items],
        now=now,
        detail={"via": "list"},
    )
    return page


def update_patient(
    session: Session, *, viewer: User, patient_id: int, changes: Mapping[str, Any], now: datetime
) -> PatientProfile:
    """Apply a clinician's changes to a patient's plan."""
    profile = get_patient(session, viewer=viewer, patient_id=patient_id)
    if "care_team" in changes:
        assert viewer.clinic_id is not None
        profile.care_team = _care_team(
            session, clinic_id=viewer.clinic_id, ids=changes["care_team"]
        )
    if "maintenance_interval_days" in changes:
        calendar.validate_interval(changes["maintenance_interval_days"])
    if "acute_target_sessions" in changes:
        calendar.validate_acute_target_sessions(changes["acute_target_sessions"])
    for field in (
        "maintenance_interval_days",
        "acute_target_sessions",
        "timezone",
        "bipolar",
        "weight_kg",
        "name",
    ):
        if field in changes:
            if field == "name":
                profile.user.name = changes[field]
            else:
                setattr(profile, field, changes[field])
    if "phase" in changes:
        profile.phase_override = changes["phase"]
        profile.phase = changes["phase"]
    if REPLAN_FIELDS & changes.keys():
        schedule.replan_patient(session, patient=profile, now=now)
    audit.record(
        session,
        actor=viewer,
        action="patient.update",
        target_type="patient",
        target_id=patient_id,
        now=now,
        detail={"fields": sorted(changes)},
    )
    return profile


def patient_names(session: Session, *, viewer: User, patient_ids: Sequence[int]) -> dict[int, str]:
    """Names of the viewer's clinic's patients among ``patient_ids``, in one query."""
    if not patient_ids:
        return {}
    rows = session.execute(
        select(PatientProfile.user_id, User.name)
        .join(User, User.id == PatientProfile.user_id)
        .where(
            PatientProfile.clinic_id == viewer.clinic_id,
            PatientProfile.user_id.in_(set(patient_ids)),
        )
    )
    return {int(user_id): str(name) for user_id, name in rows}
