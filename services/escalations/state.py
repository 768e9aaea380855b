"""What every part of the escalation flow shares: the clinic's policy, row locks, the timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from notifications.paging import PagingPolicy
from services.clinics import effective_policy
from store.dialects import for_update
from store.escalations import Escalation, EscalationEvent
from store.models import Clinic, Role, User


def paging_policy(session: Session, clinic_id: int) -> PagingPolicy:
    """The clinic's paging policy: its stored settings over the product defaults."""
    clinic = session.get(Clinic, clinic_id)
    return PagingPolicy.from_mapping(effective_policy(clinic.escalation_policy if clinic else None))


def locked(session: Session, *conditions: Any) -> Escalation | None:
    """The escalation matching ``conditions``, row-locked on PostgreSQL until commit."""
    return session.scalars(for_update(select(Escalation).where(*conditions), session)).first()


def add_event(
    session: Session,
    escalation: Escalation,
    event: str,
    *,
    now: datetime,
    actor_id: int | None = None,
    **detail: Any,
) -> None:
    """Append one entry to the escalation's timeline."""
    session.add(
        EscalationEvent(
            escalation_id=escalation.id, at=now, event=event, actor_id=actor_id, detail=detail
        )
    )


def active_clinician(session: Session, user_id: int, *, clinic_id: int | None) -> User | None:
    """The user, when they are an active (not deactivated, not deleted) clinician of the clinic."""
    clinician = session.get(User, user_id)
    if (
        clinician is None
        or clinician.role != Role.CLINICIAN
        or clinician.clinic_id != clinic_id
        or not clinician.is_active
        or clinician.deleted_at is not None
    ):
        return None
    return clinician


def active_clinicians(clinic_id: Any) -> tuple[ColumnElement[bool], ...]:
    """SQL: a user is an active clinician of ``clinic_id`` (a value or a correlated column)."""
    return (
        User.clinic_id == clinic_id,
        User.role == Role.CLINICIAN,
        User.is_active.is_(True),
        User.deleted_at.is_(None),
    )
