"""Helpers for the schedule tests: record sessions, walk the clock, read reminders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient
from sqlalchemy import func, select

from schedules import runs
from services.runtime import Runtime
from store.clock import FrozenClock
from store.models import OutboxMessage
from store.schedule import Task

# Words no reminder may carry: diagnoses, drugs, procedures, instruments, scores, names.
FORBIDDEN_WORDS = (
    "depress",
    "suicid",
    "mania",
    "manic",
    "bipolar",
    "ketamine",
    "tms",
    "magnetic",
    "phq",
    "asrm",
    "madrs",
    "score",
    "seizure",
    "dissociat",
    "blood pressure",
    "hypertens",
    "answer",
    "patient_a",
    "patient_b",
    "patient_c",
    "test patient",
    "infusion",
    "dose",
)


def session_body(started_at: datetime, **overrides: Any) -> dict[str, Any]:
    """A valid session body with one normal reading at the start."""
    body: dict[str, Any] = {
        "started_at": started_at.isoformat(),
        "ketamine_mg_per_kg": 0.5,
        "ketamine_infusion_minutes": 40,
        "tms_minutes": 30,
        "vitals": [
            {"at": started_at.isoformat(), "systolic": 128, "diastolic": 82, "heart_rate": 76},
        ],
    }
    body.update(overrides)
    return body


def record(
    client: FlaskClient,
    headers: dict[str, str],
    patient_id: int,
    started_at: datetime,
    **overrides: Any,
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/patients/{patient_id}/sessions",
        json=session_body(started_at, **overrides),
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def run_jobs(rt: Runtime) -> None:
    """One pass of every schedule job, in the order a scheduler would happen to run them."""
    runs.missed_tasks(rt)
    runs.due_reminders(rt)
    runs.overdue_maintenance(rt)


def next_remind_at(rt: Runtime) -> datetime | None:
    with rt.database.session() as session:
        value: datetime | None = session.scalar(
            select(func.min(Task.remind_at)).where(Task.status == "open")
        )
        return value


def walk(rt: Runtime, clock: FrozenClock, until: datetime, *, max_stops: int = 5000) -> None:
    """Move the clock to ``until``, stopping at every planned reminder to run the jobs."""
    for _ in range(max_stops):
        upcoming = next_remind_at(rt)
        if upcoming is None or upcoming > until:
            clock.set(max(until, clock.now()))
            run_jobs(rt)
            return
        clock.set(max(upcoming, clock.now()))
        run_jobs(rt)
    raise AssertionError("the walk did not reach its end: reminders keep falling due")


@dataclass(frozen=True)
class Reminder:
    to: str
    body: str
    at: datetime
    dedupe_key: str
    recipient_id: int | None


def reminders(rt: Runtime, *, recipient_id: int | None = None) -> list[Reminder]:
    """Every reminder SMS queued, in order."""
    with rt.database.session() as session:
        query = select(OutboxMessage).where(OutboxMessage.purpose == "reminder")
        if recipient_id is not None:
            query = query.where(OutboxMessage.recipient_id == recipient_id)
        rows = session.scalars(query.order_by(OutboxMessage.id)).all()
        return [
            Reminder(r.to_number, r.body, r.created_at, r.dedupe_key or "", r.recipient_id)
            for r in rows
        ]


def local(moment: datetime, tz: str) -> datetime:
    return moment.astimezone(ZoneInfo(tz))


def assert_no_phi(body: str) -> None:
    lowered = body.lower()
    assert not any(word in lowered for word in FORBIDDEN_WORDS), body
    assert not any(ch.isdigit() for ch in body), body
