"""What is late: tasks past expiry become missed, a missed maintenance session is escalated,
and what a clinician sees late (and next) of a patient's plan.

The job's functions take the scheduler's session; schedules/ owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.orm import Session

from clinical import calendar, rules
from services import escalations
from services.batches import Batch
from services.errors import NotFound
from services.schedule import MISSED, OPEN
from store.dialects import for_update, insert_or_skip
from store.models import Clinic, PatientProfile, User
from store.schedule import MaintenanceOverdueFlag, Task, TreatmentSession

OVERDUE_BATCH = 500


def mark_missed(session: Session, *, now: datetime) -> int:
    """Open tasks past their expiry become missed, and are never reminded again."""
    result = session.execute(
        update(Task)
        .where(Task.status == OPEN, Task.expires_at <= now)
        .values(status=MISSED, remind_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def check_overdue_maintenance(
    session: Session, *, now: datetime, limit: int = OVERDUE_BATCH
) -> Batch:
    """Raise a routine maintenance_overdue escalation once per missed maintenance due time.

    Candidates come from the indexed ``maintenance_due_at`` (cost follows the patients past
    due, not all patients); a new session moves the due time, so "no later session" holds.
    ``handled`` counts the escalations raised.
    """
    query = (
        select(PatientProfile)
        .outerjoin(
            MaintenanceOverdueFlag,
            and_(
                MaintenanceOverdueFlag.patient_id == PatientProfile.user_id,
                MaintenanceOverdueFlag.due_at == PatientProfile.maintenance_due_at,
            ),
        )
        .where(PatientProfile.maintenance_due_at <= now, MaintenanceOverdueFlag.id.is_(None))
        .order_by(PatientProfile.maintenance_due_at)
        .limit(limit)
    )
    patients = session.scalars(
        for_update(query, session, skip_locked=True, of=PatientProfile)
    ).all()
    batch = Batch(full=len(patients) >= limit)
    for patient in patients:
        batch.attempt(
            session,
            f"patient {patient.user_id}",
            partial(_flag_if_overdue, session, patient, now=now),
        )
    return batch


def _flag_if_overdue(session: Session, patient: PatientProfile, *, now: datetime) -> bool:
    due_at = patient.maintenance_due_at
    assert due_at is not None
    clinic = session.get(Clinic, patient.clinic_id)
    clinic_rules = escalations.clinic_rules(clinic) if clinic else rules.DEFAULTS
    last = session.scalar(
        select(func.max(TreatmentSession.started_at)).where(
            TreatmentSession.patient_id == patient.user_id
        )
    )
    if last is None:
        return False
    flag = rules.maintenance_overdue(
        last_session_at=last,
        interval_days=patient.maintenance_interval_days,
        now=now,
        rules=clinic_rules,
    )
    if flag is None:
        return False
    marker_id = _insert_marker(session, patient_id=patient.user_id, due_at=due_at, now=now)
    if marker_id is None:
        return False  # another scheduler raised it for this due time
    refs = escalations.raise_escalations(
        session,
        patient=patient,
        flags=[flag],
        source_type="schedule",
        source_id=marker_id,
        now=now,
    )
    session.execute(
        update(MaintenanceOverdueFlag)
        .where(MaintenanceOverdueFlag.id == marker_id)
        .values(escalation_id=refs[0].id if refs else None)
    )
    return True


def _insert_marker(
    session: Session, *, patient_id: int, due_at: datetime, now: datetime
) -> int | None:
    values: dict[str, Any] = {"patient_id": patient_id, "due_at": due_at, "flagged_at": now}
    statement = (
        insert_or_skip(session, MaintenanceOverdueFlag)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["patient_id", "due_at"])
        .returning(MaintenanceOverdueFlag.id)
    )
    new_id: int | None = session.execute(statement).scalar_one_or_none()
    return new_id


# --- What a clinician sees of a patient's plan ------------------------------------------------

# A missed task stays on the clinician's overdue list this long, then it is history.
MISSED_SHOWN_FOR = timedelta(days=14)
UPCOMING_SHOWN = 5


@dataclass(frozen=True, slots=True)
class Overdue:
    """Something a patient should have done by now: a task, or a maintenance session."""

    patient_id: int
    kind: str
    due_at: datetime
    status: str


def _overdue_query(patient_ids: Sequence[int], *, now: datetime) -> Select[Any]:
    return (
        select(Task)
        .where(
            Task.patient_id.in_(set(patient_ids)),
            ((Task.status == OPEN) & (Task.due_at <= now))
            | ((Task.status == MISSED) & (Task.expires_at > now - MISSED_SHOWN_FOR)),
        )
        .order_by(Task.patient_id, Task.due_at, Task.id)
    )


def overdue_for(
    session: Session, *, viewer: User, patients: Sequence[PatientProfile], now: datetime
) -> dict[int, list[Overdue]]:
    """Per patient of the viewer's clinic: open tasks past due, recent misses, maintenance."""
    mine = [p for p in patients if p.clinic_id == viewer.clinic_id]
    found: dict[int, list[Overdue]] = {p.user_id: [] for p in mine}
    if not mine:
        return found
    for task in session.scalars(_overdue_query([p.user_id for p in mine], now=now)):
        found[task.patient_id].append(Overdue(task.patient_id, task.kind, task.due_at, task.status))
    for profile in mine:
        due = profile.maintenance_due_at
        if due is not None and due <= now:
            kind = calendar.TASK_MAINTENANCE_SESSION
            if not any(o.kind == kind for o in found[profile.user_id]):
                found[profile.user_id].append(Overdue(profile.user_id, kind, due, OPEN))
    return found


def upcoming_tasks(
    session: Session, *, viewer: User, patient: PatientProfile, now: datetime
) -> list[Task]:
    """The next open tasks of a patient of the viewer's clinic, soonest first."""
    if patient.clinic_id != viewer.clinic_id:
        raise NotFound("No such patient.")
    return list(
        session.scalars(
            select(Task)
            .where(Task.patient_id == patient.user_id, Task.status == OPEN, Task.due_at > now)
            .order_by(Task.due_at, Task.id)
            .limit(UPCOMING_SHOWN)
        )
    )
