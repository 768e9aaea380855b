"""What every FHIR read shares: the clinic scope of a patient, the audit record, the time
ranges searched, and the clinic's queries of check-ins and vitals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from services import audit
from services.errors import NotFound
from store.models import PatientProfile, User
from store.reports import Phq9Checkin
from store.schedule import TreatmentSession, VitalsReading


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Inclusive lower and exclusive upper bounds (either may be None)."""

    lower: datetime | None = None
    upper: datetime | None = None


@dataclass(frozen=True, slots=True)
class Vitals:
    """One vitals reading with the patient it belongs to."""

    reading: VitalsReading
    patient_id: int


def audit_read(
    session: Session,
    *,
    viewer: User,
    action: str,
    patient_id: int | None,
    now: datetime,
    detail: dict[str, Any],
) -> None:
    """Record a read through the FHIR door, of one patient or of the viewer's clinic."""
    audit.record(
        session,
        actor=viewer,
        action=action,
        target_type="patient" if patient_id is not None else "clinic",
        target_id=patient_id if patient_id is not None else viewer.clinic_id,
        now=now,
        detail={"door": "fhir", **detail},
    )


def patient(session: Session, *, viewer: User, patient_id: int) -> PatientProfile:
    """A patient of the viewer's clinic (NotFound for any other), not yet audited."""
    profile = session.get(PatientProfile, patient_id)
    if (
        profile is None
        or profile.clinic_id != viewer.clinic_id
        or profile.user.deleted_at is not None
    ):
        raise NotFound("No such patient.")
    return profile


def _within(query: Any, column: InstrumentedAttribute[datetime], when: Sequence[TimeRange]) -> Any:
    """The query narrowed to every range of `when` on `column`."""
    for r in when:
        if r.lower is not None:
            query = query.where(column >= r.lower)
        if r.upper is not None:
            query = query.where(column < r.upper)
    return query


def checkin_query(
    *, clinic_id: int, patient_id: int | None, when: Sequence[TimeRange]
) -> Select[Any]:
    """The clinic's check-ins (of one patient, if given) answered within `when`."""
    query = select(Phq9Checkin).where(Phq9Checkin.clinic_id == clinic_id)
    if patient_id is not None:
        query = query.where(Phq9Checkin.patient_id == patient_id)
    within: Select[Any] = _within(query, Phq9Checkin.answered_at, when)
    return within


def vitals_query(
    *, clinic_id: int, patient_id: int | None, when: Sequence[TimeRange], heart_rate: bool
) -> Any:
    """The clinic's vitals readings with their patient (only those with a heart rate when
    `heart_rate`), taken within `when`."""
    query: Any = (
        select(VitalsReading, TreatmentSession.patient_id)
        .join(TreatmentSession, TreatmentSession.id == VitalsReading.session_id)
        .where(TreatmentSession.clinic_id == clinic_id)
    )
    if patient_id is not None:
        query = query.where(TreatmentSession.patient_id == patient_id)
    if heart_rate:
        query = query.where(VitalsReading.heart_rate.is_not(None))
    return _within(query, VitalsReading.at, when)
