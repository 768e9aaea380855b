"""A refused self-report's readable suicidality answer, still put on an escalation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from clinical import rules
from services import audit, escalations
from services.escalations import EscalationRef
from services.selfreport.submission import PATIENT_AND_CLINIC, escalate
from store.models import User


def record_refused_signal(
    session: Session,
    *,
    patient_id: int,
    source_type: str,
    item9: int | None,
    phq9_total: int | None,
    suicidal_thoughts: int | None,
    refusal_status: int,
    now: datetime,
) -> EscalationRef | None:
    """Put a refused self-report's readable suicidality answer on a suicidality escalation.

    The caller runs this in a unit of work of its own, after the refused submission's
    transaction has ended, so the refusal (or the failure) cannot undo it. Only an active
    patient's own signal counts; None when there is nothing to record.
    """
    row = session.execute(PATIENT_AND_CLINIC, {"patient_id": patient_id}).first()
    user = session.get(User, patient_id)
    if row is None or user is None or not user.is_active or user.deleted_at is not None:
        return None
    profile, clinic = row[0], row[1]
    found = rules.refused_report_flags(
        item9=item9,
        phq9_total=phq9_total,
        suicidal_thoughts=suicidal_thoughts,
        refusal_status=refusal_status,
        rules=escalations.clinic_rules(clinic),
    )
    if not found:
        return None
    ref = escalate(
        session, profile=profile, flags=found, source_type=source_type, source_id=None, now=now
    )
    audit.record(
        session,
        actor=user,
        action="selfreport.refused_signal_recorded",
        target_type="escalation",
        target_id=ref.id if ref else None,
        clinic_id=profile.clinic_id,
        now=now,
        detail={"patient_id": profile.user_id, "refusal_status": refusal_status},
    )
    return ref
