"""The self-report tests' helpers: bodies and row counts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from clinical.symptoms import SYMPTOMS
from services.runtime import Runtime
from store.escalations import Escalation, EscalationEvidence
from store.models import IdempotencyRecord, OutboxMessage, PatientProfile
from store.reports import Phq9Checkin, SymptomReportRecord
from store.schedule import Task, TreatmentSession
from tests.support.world import World

PHQ9_URL = "/api/v1/checkins/phq9"


REPORT_URL = "/api/v1/symptom-reports"


COUNTED = {
    "checkins": Phq9Checkin,
    "reports": SymptomReportRecord,
    "escalations": Escalation,
    "evidence": EscalationEvidence,
    "outbox": OutboxMessage,
    "idempotency": IdempotencyRecord,
}


def answers_for(total: int, *, item9: int = 0) -> list[int]:
    """Nine answers 0-3 adding up to `total` with item 9 as given."""
    rest = total - item9
    assert 0 <= rest <= 24, total
    items = []
    for _ in range(8):
        value = min(3, rest)
        items.append(value)
        rest -= value
    return [*items, item9]


def report_body(**overrides: Any) -> dict[str, Any]:
    """A quiet post-session report."""
    body: dict[str, Any] = {
        "symptoms": dict.fromkeys(SYMPTOMS, 0),
        "asrm": [0, 0, 0, 0, 0],
        "suicidal_thoughts": 0,
        "seizure": False,
        "fainted": False,
    }
    body.update(overrides)
    return body


def counts(rt: Runtime) -> dict[str, int]:
    """Rows in every table a submission may write (plus tasks closed)."""
    with rt.database.session() as session:
        result = {
            name: session.scalar(select(func.count()).select_from(model)) or 0
            for name, model in COUNTED.items()
        }
        result["tasks_done"] = (
            session.scalar(select(func.count()).select_from(Task).where(Task.status != "open")) or 0
        )
        return result


def set_profile(rt: Runtime, patient_id: int, **values: Any) -> None:
    """Change a patient's profile directly (e.g. no screening baseline, bipolar)."""
    with rt.database.unit_of_work() as session:
        profile = session.get(PatientProfile, patient_id)
        assert profile is not None
        for name, value in values.items():
            setattr(profile, name, value)


def add_session(rt: Runtime, world: World, patient_id: int) -> int:
    """A treatment session of the patient, recorded by clinician x1 an hour ago."""
    now = rt.clock.now()
    with rt.database.unit_of_work() as session:
        profile = session.get(PatientProfile, patient_id)
        assert profile is not None
        record = TreatmentSession(
            patient_id=patient_id,
            clinic_id=profile.clinic_id,
            started_at=now - timedelta(hours=1),
            ketamine_mg_per_kg=0.5,
            ketamine_infusion_minutes=40,
            tms_minutes=30,
            recorded_by=world.clinician_x1,
            recorded_at=now,
        )
        session.add(record)
        session.flush()
        return record.id


def add_task(rt: Runtime, patient_id: int, kind: str, *, key: str = "t1") -> int:
    """An open task asking the patient for `kind`."""
    now = rt.clock.now()
    with rt.database.unit_of_work() as session:
        profile = session.get(PatientProfile, patient_id)
        assert profile is not None
        task = Task(
            patient_id=patient_id,
            clinic_id=profile.clinic_id,
            key=key,
            kind=kind,
            reason="test",
            due_at=now - timedelta(hours=1),
            expires_at=now + timedelta(days=1),
            status="open",
            remind_at=None,
            created_at=now,
            updated_at=now,
        )
        session.add(task)
        session.flush()
        return task.id


def task_status(rt: Runtime, task_id: int) -> str:
    with rt.database.session() as session:
        task = session.get(Task, task_id)
        assert task is not None
        return task.status
