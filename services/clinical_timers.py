"""Clinical timers (rules-2): a broken acute pace, an unanswered item 9 re-ask.

One scheduler job runs them with the late live readings (services.sessions), each check one
batch in the job's session. Each is idempotent through persisted state: a live session's
``vitals_overdue_anchor`` and a ``ClinicalTimerMark`` row unique per subject, so a rerun or a
second scheduler raises nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import String, cast, func, literal, select, update
from sqlalchemy.orm import Session

from clinical import calendar, rules
from services import escalations, schedule
from services.batches import Batch
from store.dialects import insert_or_skip
from store.models import Clinic, PatientProfile
from store.schedule import ClinicalTimerMark, Task, TreatmentSession

BATCH = 500


def _mark(session: Session, *, key: str, patient_id: int, now: datetime) -> int | None:
    """Insert the timer's mark; None when another run already made it."""
    values: dict[str, Any] = {"key": key, "patient_id": patient_id, "flagged_at": now}
    statement = (
        insert_or_skip(session, ClinicalTimerMark)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(ClinicalTimerMark.id)
    )
    new_id: int | None = session.execute(statement).scalar_one_or_none()
    return new_id


def _raise(
    session: Session, *, patient: PatientProfile, flag: rules.Flag, mark_id: int, now: datetime
) -> None:
    refs = escalations.raise_escalations(
        session, patient=patient, flags=[flag], source_type="schedule", source_id=mark_id, now=now
    )
    session.execute(
        update(ClinicalTimerMark)
        .where(ClinicalTimerMark.id == mark_id)
        .values(escalation_id=refs[0].id if refs else None)
    )


def _rules(session: Session, clinic_id: int) -> rules.EscalationRules:
    clinic = session.get(Clinic, clinic_id)
    return escalations.clinic_rules(clinic) if clinic else rules.DEFAULTS


def check_acute_pace(session: Session, *, now: datetime, limit: int = BATCH) -> Batch:
    """Routine acute_session_missed once per last session when the acute pace is broken.

    The pace starts with the first session: waiting for the first one is not a broken pace.
    ``handled`` counts the escalations raised.
    """
    last = (
        select(
            TreatmentSession.patient_id,
            func.max(TreatmentSession.started_at).label("last_at"),
            func.count(TreatmentSession.id).label("given"),
        )
        .group_by(TreatmentSession.patient_id)
        .subquery()
    )
    # One mark per patient and number of sessions given: a new session re-arms the timer,
    # and patients already flagged for this gap are not read again.
    mark_key = (
        literal("acute_missed:")
        .concat(cast(last.c.patient_id, String))
        .concat(literal(":"))
        .concat(cast(last.c.given, String))
    )
    rows = session.execute(
        select(PatientProfile, last.c.last_at, last.c.given)
        .join(last, last.c.patient_id == PatientProfile.user_id)
        .outerjoin(ClinicalTimerMark, ClinicalTimerMark.key == mark_key)
        .where(
            PatientProfile.phase == calendar.ACUTE,
            # A coarse cut in SQL (the strictest clinic setting is 1 day); the rule decides.
            last.c.last_at < now - timedelta(days=1),
            ClinicalTimerMark.id.is_(None),
        )
        .order_by(last.c.last_at)
        .limit(limit)
    ).all()
    batch = Batch(full=len(rows) >= limit)
    for patient, last_at, given in rows:
        batch.attempt(
            session,
            f"patient {patient.user_id}",
            partial(_acute_missed, session, patient, last_at=last_at, given=given, now=now),
        )
    return batch


def _acute_missed(
    session: Session, patient: PatientProfile, *, last_at: datetime, given: int, now: datetime
) -> bool:
    flag = rules.acute_session_missed(
        last_session_at=last_at, now=now, rules=_rules(session, patient.clinic_id)
    )
    if flag is None:
        return False
    key = f"acute_missed:{patient.user_id}:{given}"
    mark_id = _mark(session, key=key, patient_id=patient.user_id, now=now)
    if mark_id is None:
        return False
    _raise(session, patient=patient, flag=flag, mark_id=mark_id, now=now)
    return True


def check_item9_reasks(session: Session, *, now: datetime, limit: int = BATCH) -> Batch:
    """High safety_item_unanswered when a one-question item 9 re-ask waited 24 h unanswered."""
    tasks = session.scalars(
        select(Task)
        .outerjoin(
            ClinicalTimerMark,
            ClinicalTimerMark.key == literal("item9:").concat(cast(Task.id, String)),
        )
        .where(
            Task.kind == schedule.TASK_ITEM9,
            Task.status.in_((schedule.OPEN, schedule.MISSED)),
            Task.expires_at <= now,
            ClinicalTimerMark.id.is_(None),
        )
        .order_by(Task.expires_at)
        .limit(limit)
    ).all()
    batch = Batch(full=len(tasks) >= limit)
    for task in tasks:
        batch.attempt(
            session, f"task {task.id}", partial(_item9_unanswered, session, task, now=now)
        )
    return batch


def _item9_unanswered(session: Session, task: Task, *, now: datetime) -> bool:
    patient = session.get(PatientProfile, task.patient_id)
    if patient is None:
        return False
    flag = rules.item9_reask_unanswered(
        asked_at=task.due_at, now=now, rules=_rules(session, patient.clinic_id)
    )
    if flag is None:
        return False
    mark_id = _mark(session, key=f"item9:{task.id}", patient_id=patient.user_id, now=now)
    if mark_id is None:
        return False
    _raise(session, patient=patient, flag=flag, mark_id=mark_id, now=now)
    return True
