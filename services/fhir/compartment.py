"""Patient/$everything: one patient's compartment (the patient, check-ins, session vitals)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from services.fhir.scope import Vitals, audit_read, checkin_query, patient, vitals_query
from store.models import PatientProfile, User
from store.reports import Phq9Checkin
from store.schedule import VitalsReading


@dataclass(frozen=True, slots=True)
class Everything:
    """One patient's record for Patient/$everything."""

    patient: PatientProfile
    checkins: list[Phq9Checkin]
    vitals: list[Vitals]


def everything(session: Session, *, viewer: User, patient_id: int, now: datetime) -> Everything:
    """The patient, their check-ins and their session vitals (three queries), audited."""
    profile = patient(session, viewer=viewer, patient_id=patient_id)
    assert viewer.clinic_id is not None
    checkins = list(
        session.scalars(
            checkin_query(clinic_id=viewer.clinic_id, patient_id=patient_id, when=()).order_by(
                Phq9Checkin.id
            )
        )
    )
    vitals = [
        Vitals(reading=r, patient_id=pid)
        for r, pid in session.execute(
            vitals_query(
                clinic_id=viewer.clinic_id, patient_id=patient_id, when=(), heart_rate=False
            ).order_by(VitalsReading.id)
        )
    ]
    audit_read(
        session,
        viewer=viewer,
        action="fhir.everything",
        patient_id=patient_id,
        now=now,
        detail={"checkins": len(checkins), "vitals": len(vitals)},
    )
    return Everything(patient=profile, checkins=checkins, vitals=vitals)
