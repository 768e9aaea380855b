"""Escalations: a flagged danger, its evidence, its timeline, and who was paged."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models import Base


class Status(StrEnum):
    """Where an escalation stands: open (paging), acknowledged (a clinician has it), resolved."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


STATUSES: tuple[str, ...] = tuple(Status)


class Escalation(Base):
    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.user_id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=Status.OPEN)
    # Paging position: tier 1.., the cycle through the chain, and when to move on.
    tier: Mapped[int] = mapped_column(Integer, default=0)
    cycle: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped each time the chain restarts from tier 1 (a priority raise), so the outbox
    # dedupe keys of a new chain never collide with an earlier one's.
    chain: Mapped[int] = mapped_column(Integer, default=0)
    next_page_at: Mapped[datetime | None]
    paging_exhausted: Mapped[bool] = mapped_column(Boolean, default=False)
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution_note: Mapped[str | None] = mapped_column(Text)

    evidence: Mapped[list[EscalationEvidence]] = relationship(
        back_populates="escalation", order_by="EscalationEvidence.id"
    )
    timeline: Mapped[list[EscalationEvent]] = relationship(
        back_populates="escalation", order_by="EscalationEvent.id"
    )

    __table_args__ = (
        Index("ix_escalations_clinic_status", "clinic_id", "status", "priority"),
        Index("ix_escalations_next_page", "status", "next_page_at"),
        # One unresolved escalation per patient and kind: a second flag merges into it.
        Index(
            "uq_escalations_patient_kind_unresolved",
            "patient_id",
            "kind",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
    )


class EscalationEvidence(Base):
    """One firing of a rule: what triggered it, by which rule and version."""

    __tablename__ = "escalation_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id"), index=True)
    source_type: Mapped[str] = mapped_column(String(24))
    source_id: Mapped[int | None] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(64))
    rule_version: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(8))
    detail: Mapped[dict[str, Any]]
    at: Mapped[datetime]

    escalation: Mapped[Escalation] = relationship(back_populates="evidence")


class EscalationEvent(Base):
    """The timeline: created, paged, evidence added, acknowledged, resolved, ..."""

    __tablename__ = "escalation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id"), index=True)
    at: Mapped[datetime]
    event: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    detail: Mapped[dict[str, Any]]

    escalation: Mapped[Escalation] = relationship(back_populates="timeline")
