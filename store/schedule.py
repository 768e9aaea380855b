"""Treatment sessions, their vitals, and the tasks the calendar plans for each patient."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models import Base
from store.types import JsonType


class TaskStatus(StrEnum):
    """A task's state: open, then done, missed or cancelled (never reopened)."""

    OPEN = "open"
    DONE = "done"
    MISSED = "missed"
    CANCELLED = "cancelled"


class TreatmentSession(Base):
    __tablename__ = "treatment_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.user_id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    started_at: Mapped[datetime]
    ketamine_mg_per_kg: Mapped[float | None] = mapped_column(Float)
    ketamine_infusion_minutes: Mapped[int | None] = mapped_column(Integer)
    tms_minutes: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]
    # "in_progress" while recorded live (readings arrive one by one), then "completed";
    # back-filled sessions are completed from the start.
    status: Mapped[str] = mapped_column(String(16), default="completed", server_default="completed")
    ended_at: Mapped[datetime | None]
    # Protocol deviations (recorded, never blocked) and pre-dose warnings, with versions.
    deviations: Mapped[list[Any] | None] = mapped_column(JsonType)
    warnings: Mapped[list[Any] | None] = mapped_column(JsonType)
    # The last reading (or the start) the clinician was already texted about: never twice.
    vitals_overdue_anchor: Mapped[datetime | None]

    vitals: Mapped[list[VitalsReading]] = relationship(
        back_populates="session", order_by="VitalsReading.at"
    )

    # A patient's sessions in treatment order: the calendar, the history and duplicate checks.
    __table_args__ = (
        Index("ix_treatment_sessions_patient_started", "patient_id", "started_at", "id"),
    )


class VitalsReading(Base):
    __tablename__ = "vitals_readings"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    at: Mapped[datetime]
    systolic: Mapped[int] = mapped_column(Integer)
    diastolic: Mapped[int] = mapped_column(Integer)
    heart_rate: Mapped[int | None] = mapped_column(Integer)
    spo2: Mapped[int | None] = mapped_column(Integer)

    session: Mapped[TreatmentSession] = relationship(back_populates="vitals")


class Task(Base):
    """Something the app should ask a patient, planned by the calendar; one row per plan key."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.user_id"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_sessions.id"))
    reason: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # open -> done | missed | cancelled
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.OPEN)
    completed_at: Mapped[datetime | None]
    # The next reminder to queue (None when none is left); the scheduler's index.
    remind_at: Mapped[datetime | None]
    # SMS queued for this task, ever: the next one's outbox dedupe key is "reminder:<id>:<n>".
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    # Which reminder of the current cycle is next: 0 opening, 1 the 24-hour nudge, 2 none.
    # A cycle restarts when the task's due time moves (e.g. a new maintenance interval).
    reminder_step: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("patient_id", "key", name="uq_tasks_patient_key"),
        Index("ix_tasks_remind_at", "remind_at"),
        Index("ix_tasks_patient_status", "patient_id", "status"),
        # The missed-tasks sweep: open tasks past their expiry.
        Index("ix_tasks_status_expires_at", "status", "expires_at"),
    )


class MaintenanceOverdueFlag(Base):
    """The overdue-maintenance escalation was raised for this patient's due time.

    Unique per (patient, due time), so a second scheduler or a rerun never raises it twice;
    a new session moves the due time and arms the check again.
    """

    __tablename__ = "maintenance_overdue_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.user_id"))
    due_at: Mapped[datetime]
    flagged_at: Mapped[datetime]
    escalation_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("patient_id", "due_at", name="uq_maintenance_overdue_patient_due"),
    )


class ClinicalTimerMark(Base):
    """A clinical timer fired for this subject (e.g. "acute_missed:<patient>:<last session>").

    Unique per key, so a rerun or a second scheduler never raises the same item twice.
    """

    __tablename__ = "clinical_timer_marks"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.user_id"), index=True)
    flagged_at: Mapped[datetime]
    escalation_id: Mapped[int | None] = mapped_column(Integer)
