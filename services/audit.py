"""The audit trail: who read or changed what, and when.

Every read and change of patient data and every login is recorded here, by the services
(never the views), so each door to the data (the JSON API, the clinician web app, FHIR)
leaves the same trail. Details hold ids and categories only: no names, phones, answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.errors import Forbidden
from services.pagination import Page, paginate
from store.escalations import Escalation
from store.models import AuditEvent, Role, User

# Never in an event's detail: contact details, free text, secrets, answers, or the clinical
# category of a flag (with the patient's id beside it, "kind": "suicidality" is PHI).
_PHI_KEYS = frozenset(
    {
        "name",
        "phone",
        "email",
        "username",
        "password",
        "code",
        "note",
        "notes",
        "body",
        "answers",
        "kind",
        "evidence",
        "diagnosis",
    }
)


def _without_phi(detail: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in detail.items() if key not in _PHI_KEYS}


def _patient_of(
    session: Session, *, target_type: str, target_id: int | str | None, detail: Mapping[str, Any]
) -> int | None:
    """Whose data an event is about, when the caller did not say: from its target."""
    if isinstance(detail.get("patient_id"), int):
        return int(detail["patient_id"])
    if target_id is None:
        return None
    if target_type == "patient":
        return int(target_id)
    if target_type == "escalation":
        escalation = session.get(Escalation, int(target_id))
        return escalation.patient_id if escalation is not None else None
    return None


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
    patient_id: int | None = None,
) -> None:
    """Add one audit event to the caller's transaction."""
    detail = _without_phi(detail or {})
    if patient_id is None:
        patient_id = _patient_of(
            session, target_type=target_type, target_id=target_id, detail=detail
        )
    session.add(
        AuditEvent(
            at=now,
            actor_id=actor.id if actor else None,
            actor_role=actor.role if actor else None,
            clinic_id=clinic_id if clinic_id is not None else (actor.clinic_id if actor else None),
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            patient_id=patient_id,
            detail=detail,
        )
    )


def record_reads(
    session: Session,
    *,
    actor: User,
    what: str,
    patient_ids: Iterable[int],
    now: datetime | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """One `<what>.read` event per patient whose data the actor was shown."""
    at = now or datetime.now(UTC)  # callers that predate the trail pass no clock
    for patient_id in dict.fromkeys(patient_ids):
        record(
            session,
            actor=actor,
            action=f"{what}.read",
            target_type="patient",
            target_id=patient_id,
            patient_id=patient_id,
            now=at,
            detail=detail,
        )


def record_login(
    session: Session, *, user: User | None, action: str, now: datetime, reason: str | None = None
) -> None:
    """A sign-in (or its failure): the user when known, never the username typed."""
    record(
        session,
        actor=user,
        action=action,
        target_type="user",
        target_id=user.id if user else None,
        patient_id=user.id if user is not None and user.role == Role.PATIENT else None,
        now=now,
        detail={"reason": reason} if reason else None,
    )


@dataclass(frozen=True, slots=True)
class AuditFilter:
    patient_id: int | None = None
    actor_id: int | None = None
    since: datetime | None = None


def list_events(
    session: Session,
    *,
    viewer: User,
    filters: AuditFilter,
    limit: int,
    cursor: str | None,
) -> Page[AuditEvent]:
    """The trail, newest first (admin only)."""
    if viewer.role != Role.ADMIN:
        raise Forbidden("Only an admin reads the audit trail.")
    query = select(AuditEvent)
    if filters.patient_id is not None:
        query = query.where(AuditEvent.patient_id == filters.patient_id)
    if filters.actor_id is not None:
        query = query.where(AuditEvent.actor_id == filters.actor_id)
    if filters.since is not None:
        query = query.where(AuditEvent.at >= filters.since)
    return paginate(session, query, key=AuditEvent.id, limit=limit, cursor=cursor)
