"""The steps every self-report submission shares.

Who may submit, when the answers were given, the treatment session and task they belong to,
and the escalations and audit event a stored submission leaves, all in the caller's unit of
work.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from clinical import rules
from clinical.errors import InvalidInput
from services import audit, escalations, outcomes, schedule
from services.errors import Forbidden, Invalid, NotFound
from services.escalations import EscalationRef
from store.models import Clinic, PatientProfile, User
from store.schedule import TreatmentSession

# A phone's clock may run a little fast; anything later than this is refused.
CLOCK_SKEW = timedelta(minutes=5)
# Answers older than this are no longer a check-in about "the last two weeks" as scheduled.
MAX_ANSWER_AGE = timedelta(days=7)

# The mood check a bipolar patient is asked beside a PHQ-9: answered by any submission that
# carries the five ASRM items (a PHQ-9 with `asrm`, or a post-session report).
ASRM_TASK = "asrm"

PATIENT_AND_CLINIC = (
    select(PatientProfile, Clinic)
    .join(Clinic, Clinic.id == PatientProfile.clinic_id)
    .where(PatientProfile.user_id == bindparam("patient_id"))
)
# The same with the patient's earlier totals, so a check-in reads all it needs at once.
_PATIENT_CLINIC_AND_PRIOR = PATIENT_AND_CLINIC.add_columns(*outcomes.PRIOR_TOTAL_COLUMNS)


def patient_and_clinic(session: Session, *, patient: User) -> tuple[PatientProfile, Clinic]:
    """The submitting patient's profile and clinic."""
    _only_patients(patient)
    row = session.execute(PATIENT_AND_CLINIC, {"patient_id": patient.id}).first()
    if row is None:
        raise NotFound("No such patient.")
    return row[0], row[1]


def patient_clinic_and_prior(
    session: Session, *, patient: User, before: datetime
) -> tuple[PatientProfile, Clinic, outcomes.PriorTotals]:
    """The submitting patient's profile, clinic and totals answered up to `before`."""
    _only_patients(patient)
    params = {
        "patient_id": patient.id,
        **outcomes.prior_params(patient_id=patient.id, before=before),
    }
    row = session.execute(_PATIENT_CLINIC_AND_PRIOR, params).first()
    if row is None:
        raise NotFound("No such patient.")
    return row[0], row[1], outcomes.prior_totals_from(tuple(row[2:]))


def _only_patients(user: User) -> None:
    if user.role != "patient":
        raise Forbidden("Only patients submit check-ins and reports.")


def answer_time(answered_at: datetime | None, *, now: datetime) -> datetime:
    """The time the patient answered: given (within the allowed window) or now."""
    if answered_at is None:
        return now
    if answered_at > now + CLOCK_SKEW:
        raise Invalid({"answered_at": ["Must not be in the future."]})
    if answered_at < now - MAX_ANSWER_AGE:
        raise Invalid({"answered_at": [f"Must be within the last {MAX_ANSWER_AGE.days} days."]})
    return answered_at


def check_session(session: Session, *, patient_id: int, session_id: int | None) -> None:
    """404 unless the treatment session is this patient's."""
    if session_id is None:
        return
    found = session.scalar(
        select(TreatmentSession.id).where(
            TreatmentSession.id == session_id, TreatmentSession.patient_id == patient_id
        )
    )
    if found is None:
        raise NotFound("No such treatment session.")


def validated(*checks: tuple[str, Any]) -> dict[str, Any]:
    """Run each (name, thunk) check and collect every InvalidInput/Invalid into one 422."""
    errors: dict[str, list[str]] = {}
    results: dict[str, Any] = {}
    for name, check in checks:
        try:
            results[name] = check()
        except (InvalidInput, Invalid) as error:
            for path, messages in error.errors.items():
                errors.setdefault(path, []).extend(messages)
    if errors:
        raise Invalid(errors)
    return results


def complete_task(
    session: Session,
    *,
    profile: PatientProfile,
    task_id: int | None,
    kind: str,
    also: Sequence[str],
    now: datetime,
) -> None:
    """Close the task the submission answers, when it names one."""
    if task_id is not None:
        schedule.complete_task(
            session, patient_id=profile.user_id, task_id=task_id, kind=kind, also=also, now=now
        )


def escalate(
    session: Session,
    *,
    profile: PatientProfile,
    flags: Sequence[rules.Flag],
    source_type: str,
    source_id: int | None,
    now: datetime,
) -> EscalationRef | None:
    """Raise the flags as escalations (queueing their pages); the first one, or None."""
    if not flags:
        return None
    refs = escalations.raise_escalations(
        session,
        patient=profile,
        flags=flags,
        source_type=source_type,
        source_id=source_id,
        now=now,
    )
    return refs[0] if refs else None


def escalate_and_audit(
    session: Session,
    *,
    patient: User,
    profile: PatientProfile,
    flags: Sequence[rules.Flag],
    source_type: str,
    record_id: int,
    action: str,
    target_type: str,
    now: datetime,
) -> EscalationRef | None:
    """Raise a stored submission's escalations, then audit its creation (`action`)."""
    escalation = escalate(
        session, profile=profile, flags=flags, source_type=source_type, source_id=record_id, now=now
    )
    audit.record(
        session,
        actor=patient,
        action=action,
        target_type=target_type,
        target_id=record_id,
        patient_id=profile.user_id,
        now=now,
    )
    return escalation
