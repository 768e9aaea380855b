"""Searches: pages of the clinic's patients, check-ins and vitals in id order, audited."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from services.fhir.scope import (
    TimeRange,
    Vitals,
    audit_read,
    checkin_query,
    patient,
    vitals_query,
)
from store.models import PatientProfile, User
from store.reports import Phq9Checkin
from store.schedule import VitalsReading


def _audit_search(
    session: Session,
    *,
    viewer: User,
    patient_id: int | None,
    now: datetime,
    resource: str,
    count: int,
) -> None:
    audit_read(
        session,
        viewer=viewer,
        action="fhir.search",
        patient_id=patient_id,
        now=now,
        detail={"resource": resource, "count": count},
    )


def list_patients(
    session: Session, *, viewer: User, after_id: int, limit: int, now: datetime
) -> list[PatientProfile]:
    """The clinic's patients in id order after `after_id`."""
    rows = list(
        session.scalars(
            select(PatientProfile)
            .join(User, User.id == PatientProfile.user_id)
            .where(
                PatientProfile.clinic_id == viewer.clinic_id,
                User.deleted_at.is_(None),
                PatientProfile.user_id > after_id,
            )
            .options(selectinload(PatientProfile.user))
            .order_by(PatientProfile.user_id)
            .limit(limit)
        )
    )
    _audit_search(
        session, viewer=viewer, patient_id=None, now=now, resource="Patient", count=len(rows)
    )
    return rows


def _clinic_of(session: Session, *, viewer: User, patient_id: int | None) -> int:
    """The viewer's clinic, once the searched patient (if any) is found to be of it."""
    assert viewer.clinic_id is not None
    if patient_id is not None:
        patient(session, viewer=viewer, patient_id=patient_id)
    return viewer.clinic_id


def search_checkins(
    session: Session,
    *,
    viewer: User,
    patient_id: int | None,
    when: Sequence[TimeRange],
    after_id: int,
    limit: int,
    now: datetime,
    resource: str,
    asrm_only: bool = False,
) -> list[Phq9Checkin]:
    """PHQ-9 check-ins (optionally only those carrying an ASRM) in id order, audited."""
    clinic_id = _clinic_of(session, viewer=viewer, patient_id=patient_id)
    query = checkin_query(clinic_id=clinic_id, patient_id=patient_id, when=when)
    if asrm_only:
        query = query.where(Phq9Checkin.asrm_total.is_not(None))
    rows = list(
        session.scalars(
            query.where(Phq9Checkin.id > after_id).order_by(Phq9Checkin.id).limit(limit)
        )
    )
    _audit_search(
        session, viewer=viewer, patient_id=patient_id, now=now, resource=resource, count=len(rows)
    )
    return rows


def search_vitals(
    session: Session,
    *,
    viewer: User,
    patient_id: int | None,
    when: Sequence[TimeRange],
    heart_rate: bool,
    after_id: int,
    limit: int,
    now: datetime,
) -> list[Vitals]:
    """Session vitals readings in id order (only those with a heart rate when asked), audited."""
    clinic_id = _clinic_of(session, viewer=viewer, patient_id=patient_id)
    query = vitals_query(
        clinic_id=clinic_id, patient_id=patient_id, when=when, heart_rate=heart_rate
    )
    rows = [
        Vitals(reading=r, patient_id=pid)
        for r, pid in session.execute(
            query.where(VitalsReading.id > after_id).order_by(VitalsReading.id).limit(limit)
        )
    ]
    _audit_search(
        session,
        viewer=viewer,
        patient_id=patient_id,
        now=now,
        resource="Observation",
        count=len(rows),
    )
    return rows
