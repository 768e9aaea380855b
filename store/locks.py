"""Row locks that serialise writers of one patient's records for a transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.dialects import is_postgresql
from store.models import PatientProfile


def lock_patient(session: Session, patient: PatientProfile) -> None:
    """Serialise writers of one patient (their escalations, their calendar) until commit.

    Concurrent submissions must never open two escalations of one kind, nor concurrent
    re-plans insert the same calendar keys twice. SQLite's BEGIN IMMEDIATE serialises
    writers already. FOR NO KEY UPDATE, not FOR UPDATE: a transaction's own inserts that
    reference the patient hold a KEY SHARE lock on this row (their foreign key), which two
    FOR UPDATE lockers would deadlock against; NO KEY UPDATE still excludes every other
    locker of the same patient.
    """
    if is_postgresql(session):
        session.execute(
            select(PatientProfile.user_id)
            .where(PatientProfile.user_id == patient.user_id)
            .with_for_update(key_share=True)
        )
