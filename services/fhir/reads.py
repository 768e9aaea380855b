"""Reads of one resource: a Patient, a check-in, a vitals reading of the viewer's clinic,
each audited (NotFound for another clinic's)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.errors import NotFound
from services.fhir.scope import Vitals, audit_read, patient
from store.models import PatientProfile, User
from store.reports import Phq9Checkin
from store.schedule import TreatmentSession, VitalsReading


def read_patient(
    session: Session, *, viewer: User, patient_id: int, now: datetime
) -> PatientProfile:
    """Patient/{id}: audited."""
    profile = patient(session, viewer=viewer, patient_id=patient_id)
    audit_read(
        session,
        viewer=viewer,
        action="fhir.read",
        patient_id=patient_id,
        now=now,
        detail={"resource": "Patient"},
    )
    return profile


def read_checkin(
    session: Session, *, viewer: User, checkin_id: int, now: datetime, resource: str
) -> Phq9Checkin:
    """One check-in of the viewer's clinic (NotFound otherwise), audited."""
    row = session.get(Phq9Checkin, checkin_id)
    if row is None or row.clinic_id != viewer.clinic_id:
        raise NotFound(f"No such {resource}.")
    audit_read(
        session,
        viewer=viewer,
        action="fhir.read",
        patient_id=row.patient_id,
        now=now,
        detail={"resource": resource, "id": checkin_id},
    )
    return row


def read_vitals(session: Session, *, viewer: User, reading_id: int, now: datetime) -> Vitals:
    """One vitals reading of the viewer's clinic (NotFound otherwise), audited."""
    row = session.execute(
        select(VitalsReading, TreatmentSession.patient_id, TreatmentSession.clinic_id)
        .join(TreatmentSession, TreatmentSession.id == VitalsReading.session_id)
        .where(VitalsReading.id == reading_id)
    ).first()
    if row is None or row[2] != viewer.clinic_id:
        raise NotFound("No such Observation.")
    audit_read(
        session,
        viewer=viewer,
        action="fhir.read",
        patient_id=row[1],
        now=now,
        detail={"resource": "Observation", "id": reading_id},
    )
    return Vitals(reading=row[0], patient_id=row[1])
