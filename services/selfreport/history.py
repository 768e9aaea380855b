"""What patients and their clinicians read back: check-in and report history, standing.

Every read is audited; a patient sees only themselves, a clinician only their clinic's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clinical.outcomes import CourseOutcome
from services import audit, outcomes
from services.errors import NotFound
from services.pagination import paginate
from services.patients import get_patient
from store.models import PatientProfile, User
from store.reports import Phq9Checkin, SymptomReportRecord
from store.schedule import TreatmentSession

T = TypeVar("T")
# The self-report records a history lists.
R = TypeVar("R", Phq9Checkin, SymptomReportRecord)


@dataclass(frozen=True, slots=True)
class History(Generic[T]):
    """One page of a patient's records, and the patient's time zone to show them in."""

    items: list[T]
    next_cursor: str | None
    timezone: str


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a patient is now: latest scores, outcome, and the session plan."""

    profile: PatientProfile
    latest_checkin: Phq9Checkin | None
    latest_report: SymptomReportRecord | None
    outcome: CourseOutcome
    sessions_given: int
    last_session_at: datetime | None
    next_session_due_at: datetime | None


def _visible_patient(session: Session, *, viewer: User, patient_id: int) -> PatientProfile:
    """The patient if the viewer may see them: themselves, or one of their clinic's."""
    if viewer.role == "patient":
        profile = session.get(PatientProfile, viewer.id)
        if profile is None or patient_id != viewer.id:
            raise NotFound("No such patient.")
        return profile
    if viewer.role == "clinician":
        return get_patient(session, viewer=viewer, patient_id=patient_id)
    raise NotFound("No such patient.")


def _history(
    session: Session,
    model: type[R],
    *,
    what: str,
    viewer: User,
    patient_id: int,
    limit: int,
    cursor: str | None,
    now: datetime | None,
) -> History[R]:
    """A patient's records of `model`, newest first; the read audited as `what`."""
    profile = _visible_patient(session, viewer=viewer, patient_id=patient_id)
    audit.record_reads(session, actor=viewer, what=what, patient_ids=[patient_id], now=now)
    query = select(model).where(model.patient_id == patient_id)
    page = paginate(session, query, key=model.id, limit=limit, cursor=cursor)
    return History(items=page.items, next_cursor=page.next_cursor, timezone=profile.timezone)


def checkin_history(
    session: Session,
    *,
    viewer: User,
    patient_id: int,
    limit: int,
    cursor: str | None,
    now: datetime | None = None,
) -> History[Phq9Checkin]:
    """A patient's PHQ-9 check-ins, newest first (audited)."""
    return _history(
        session,
        Phq9Checkin,
        what="checkins",
        viewer=viewer,
        patient_id=patient_id,
        limit=limit,
        cursor=cursor,
        now=now,
    )


def symptom_report_history(
    session: Session,
    *,
    viewer: User,
    patient_id: int,
    limit: int,
    cursor: str | None,
    now: datetime | None = None,
) -> History[SymptomReportRecord]:
    """A patient's post-session reports, newest first (audited)."""
    return _history(
        session,
        SymptomReportRecord,
        what="symptom_reports",
        viewer=viewer,
        patient_id=patient_id,
        limit=limit,
        cursor=cursor,
        now=now,
    )


def standing(session: Session, *, profile: PatientProfile) -> Standing:
    """Latest scores, outcome summary and session plan of one patient."""
    sessions_given, last_session_at = session.execute(
        select(func.count(TreatmentSession.id), func.max(TreatmentSession.started_at)).where(
            TreatmentSession.patient_id == profile.user_id
        )
    ).one()
    return Standing(
        profile=profile,
        latest_checkin=outcomes.latest_checkin(session, patient_id=profile.user_id),
        latest_report=outcomes.latest_symptom_report(session, patient_id=profile.user_id),
        outcome=outcomes.course_summary(session, profile=profile),
        sessions_given=int(sessions_given or 0),
        last_session_at=last_session_at,
        next_session_due_at=profile.maintenance_due_at,
    )


def patient_standing(
    session: Session, *, viewer: User, patient_id: int, now: datetime | None = None
) -> Standing:
    """A patient of the clinician's clinic with latest scores and outcome (404 otherwise)."""
    profile = get_patient(session, viewer=viewer, patient_id=patient_id)
    audit.record_reads(session, actor=viewer, what="patient", patient_ids=[patient_id], now=now)
    return standing(session, profile=profile)


def my_standing(session: Session, *, patient: User, now: datetime | None = None) -> Standing:
    """The signed-in patient's profile, plan, latest scores and outcome (audited)."""
    profile = _visible_patient(session, viewer=patient, patient_id=patient.id)
    audit.record_reads(session, actor=patient, what="patient", patient_ids=[patient.id], now=now)
    return standing(session, profile=profile)
