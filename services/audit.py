"""The audit trail: who read or changed what, and when."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from store.models import AuditEvent, User


def record(
    session: Session,
    *,
    actor: User | None,
    action: str,
    target_type: str,
    target_id: int | str | None,
    now: datetime,
    clinic_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Add one audit event to the caller's transaction."""
    session.add(
        AuditEvent(
            at=now,
            actor_id=actor.id if actor else None,
            clinic_id=clinic_id if clinic_id is not None else (actor.clinic_id if actor else None),
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            detail=dict(detail or {}),
        )
    )
