"""PHQ-9 item 9 asked again alone, after a check-in skipped it (rules-2).

A skipped item 9 opens a one-question task open 24 hours; the answer is judged as item 9 of
that check-in (suicidality flags, crisis resources from 1), and a re-ask left unanswered for
24 hours raises the skipped-item escalation to high (services.clinical_timers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinical import crisis, rules
from services import escalations, schedule
from services.errors import Conflict, Forbidden, Invalid, NotFound
from services.escalations import EscalationRef
from store.models import Clinic, PatientProfile, Role, User
from store.reports import Item9Answer, Phq9Checkin
from store.schedule import Task

# A phone's clock may run a little fast (as for every self-report).
_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Item9Result:
    record: Item9Answer
    flags: list[rules.Flag]
    escalation: EscalationRef | None
    crisis_resources: dict[str, Any] | None
    timezone: str


def submit_item9(
    session: Session,
    *,
    patient: User,
    task_id: int,
    item9: int,
    answered_at: datetime | None = None,
    now: datetime,
) -> Item9Result:
    """Store the re-asked item 9, close its task and escalate as the original item 9 would."""
    if patient.role != Role.PATIENT:
        raise Forbidden("Only patients submit check-ins and reports.")
    resources = crisis.crisis_resources_for(item9=item9)
    when = answered_at or now
    if when > now + _SKEW:
        raise Invalid({"answered_at": ["Must not be in the future."]})
    profile = session.get(PatientProfile, patient.id)
    task = session.get(Task, task_id)
    if profile is None or task is None or task.patient_id != patient.id:
        raise NotFound("No such task.")
    if task.kind != schedule.TASK_ITEM9:
        raise Invalid({"task_id": [f"This task asks for a {task.kind}, not item 9 alone."]})
    if when < task.created_at - _SKEW:
        raise Invalid({"answered_at": ["Must not be before the question was asked."]})
    answered = session.scalar(select(Item9Answer.id).where(Item9Answer.task_id == task.id))
    if answered is not None:
        raise Conflict("This question was already answered.")
    checkin_id = int(task.key.removeprefix(schedule.ITEM9_PREFIX))
    checkin = session.get(Phq9Checkin, checkin_id)
    if checkin is None or checkin.patient_id != patient.id:
        raise NotFound("No such task.")
    clinic = session.get(Clinic, profile.clinic_id)
    found = rules.item9_reask_flags(
        item9=item9,
        original_total=checkin.total,
        rules=escalations.clinic_rules(clinic) if clinic else rules.DEFAULTS,
    )
    record = Item9Answer(
        patient_id=patient.id,
        clinic_id=profile.clinic_id,
        checkin_id=checkin.id,
        task_id=task.id,
        item9=item9,
        flags=[f.as_dict() for f in found],
        rules_version=rules.RULES_VERSION,
        answered_at=when,
        received_at=now,
    )
    session.add(record)
    if task.status == schedule.OPEN:
        task.status = schedule.DONE
        task.completed_at = now
        task.remind_at = None
        task.updated_at = now
    session.flush()
    refs = (
        escalations.raise_escalations(
            session, patient=profile, flags=found, source_type="phq9", source_id=checkin.id, now=now
        )
        if found
        else []
    )
    return Item9Result(
        record=record,
        flags=found,
        escalation=refs[0] if refs else None,
        crisis_resources=resources,
        timezone=profile.timezone,
    )
