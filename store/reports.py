"""Patient self-report: PHQ-9 check-ins and post-session symptom reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base
from store.types import JsonType


class Phq9Checkin(Base):
    __tablename__ = "phq9_checkins"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.user_id"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    answers: Mapped[list[Any]] = mapped_column(JsonType)
    difficulty: Mapped[int | None] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    prorated: Mapped[bool] = mapped_column(Boolean)
    answered_count: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(24))
    item9: Mapped[int | None] = mapped_column(Integer)
    # ASRM asked alongside (bipolar patients in maintenance).
    asrm_answers: Mapped[list[Any] | None] = mapped_column(JsonType)
    asrm_total: Mapped[int | None] = mapped_column(Integer)
    flags: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    change_points: Mapped[int | None] = mapped_column(Integer)
    change_percent: Mapped[float | None] = mapped_column(Float)
    instrument_version: Mapped[str] = mapped_column(String(32))
    rules_version: Mapped[str] = mapped_column(String(32))
    # The outcome this check-in produced (baseline used, response, remission, relapse), with
    # its definition version; None on records made before outcome definitions v2.
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    task_id: Mapped[int | None] = mapped_column(Integer)
    session_id: Mapped[int | None] = mapped_column(Integer)
    answered_at: Mapped[datetime]
    received_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_phq9_checkins_patient_id_id", "patient_id", "id"),
        # Previous, first and best totals are looked up in clinical (answered) order; id
        # breaks ties, so "previous" and "first" are one index probe each.
        Index("ix_phq9_checkins_patient_answered", "patient_id", "answered_at", "id"),
    )


class SymptomReportRecord(Base):
    __tablename__ = "symptom_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.user_id"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    symptoms: Mapped[dict[str, Any]]
    asrm_answers: Mapped[list[Any]] = mapped_column(JsonType)
    asrm_total: Mapped[int] = mapped_column(Integer)
    suicidal_thoughts: Mapped[int] = mapped_column(Integer)
    seizure: Mapped[bool] = mapped_column(Boolean)
    fainted: Mapped[bool] = mapped_column(Boolean)
    notes: Mapped[str | None] = mapped_column(Text)
    flags: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    instrument_version: Mapped[str] = mapped_column(String(32))
    rules_version: Mapped[str] = mapped_column(String(32))
    task_id: Mapped[int | None] = mapped_column(Integer)
    session_id: Mapped[int | None] = mapped_column(Integer)
    answered_at: Mapped[datetime]
    received_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_symptom_reports_patient_id_id", "patient_id", "id"),
        Index("ix_symptom_reports_patient_answered", "patient_id", "answered_at"),
    )


class Item9Answer(Base):
    """PHQ-9 item 9 answered alone: the one-question re-ask after a check-in skipped it."""

    __tablename__ = "phq9_item9_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.user_id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    checkin_id: Mapped[int] = mapped_column(ForeignKey("phq9_checkins.id"))
    task_id: Mapped[int] = mapped_column(Integer, unique=True)
    item9: Mapped[int] = mapped_column(Integer)
    flags: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    rules_version: Mapped[str] = mapped_column(String(32))
    answered_at: Mapped[datetime]
    received_at: Mapped[datetime]
