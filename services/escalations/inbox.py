"""The clinician's inbox: list and read escalations, acknowledge, resolve and reassign them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from clinical.rules import KINDS, PRIORITIES, priority_rank
from notifications import oncall, paging
from services import audit
from services.errors import Conflict, Invalid, NotFound
from services.escalations import flow
from services.escalations.reachability import unpageable_clause, unpageable_ids
from services.escalations.state import active_clinician, add_event, locked
from services.pagination import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor
from store.escalations import STATUSES, Escalation, EscalationEvent, EscalationEvidence, Status
from store.models import OutboxMessage, Role, User

NOTE_MAX = 2000


def _scoped(session: Session, *, viewer: User, escalation_id: int) -> Escalation:
    escalation = session.get(Escalation, escalation_id)
    if escalation is None or escalation.clinic_id != viewer.clinic_id:
        raise NotFound("No such escalation.")
    return escalation


def _check_filters(*, status: str | None, priority: str | None, kind: str | None) -> None:
    """422 for a filter value outside the vocabulary (a typo must not list nothing)."""
    errors: dict[str, list[str]] = {}
    for name, value, allowed in (
        ("status", status, STATUSES),
        ("priority", priority, PRIORITIES),
        ("kind", kind, KINDS),
    ):
        if value is not None and value not in allowed:
            errors[name] = [f"Must be one of: {', '.join(allowed)}."]
    if errors:
        raise Invalid(errors)


def _inbox_order() -> tuple[ColumnElement[Any] | InstrumentedAttribute[Any], ...]:
    """Open first; among them, those nobody can be paged for; then gravest, then oldest."""
    status_rank = case({Status.OPEN: 0, Status.ACKNOWLEDGED: 1}, value=Escalation.status, else_=2)
    priority_order = case(
        {p: priority_rank(p) for p in PRIORITIES}, value=Escalation.priority, else_=0
    )
    # Nobody can be paged for it: it leads the inbox, above every other open item.
    unpageable_rank = case((unpageable_clause(), 0), else_=1)
    return (
        status_rank,
        unpageable_rank,
        priority_order.desc(),
        Escalation.created_at,
        Escalation.id,
    )


def list_escalations(
    session: Session,
    *,
    viewer: User,
    now: datetime,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    status: str | None = None,
    priority: str | None = None,
    kind: str | None = None,
    patient_id: int | None = None,
    assigned_to: int | None = None,
) -> Page[Escalation]:
    """The clinic's escalations: open first, then urgent first, then oldest first."""
    _check_filters(status=status, priority=priority, kind=kind)
    query = select(Escalation).where(Escalation.clinic_id == viewer.clinic_id)
    if status is not None:
        query = query.where(Escalation.status == status)
    if priority is not None:
        query = query.where(Escalation.priority == priority)
    if kind is not None:
        query = query.where(Escalation.kind == kind)
    if patient_id is not None:
        query = query.where(Escalation.patient_id == patient_id)
    if assigned_to is not None:
        query = query.where(Escalation.assigned_to == assigned_to)
    # The ordering has no single monotonic key, so the cursor is a position in it.
    offset = decode_cursor(cursor) if cursor else 0
    rows = list(session.scalars(query.order_by(*_inbox_order()).offset(offset).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    audit.record(
        session,
        actor=viewer,
        action="escalation.list",
        target_type="escalation",
        target_id=None,
        now=now,
        detail={
            "filters": {
                "status": status,
                "priority": priority,
                "kind": kind,
                "patient_id": patient_id,
                "assigned_to": assigned_to,
            },
            "ids": [e.id for e in rows],
        },
    )
    return Page(items=rows, next_cursor=encode_cursor(offset + limit) if more else None)


@dataclass(frozen=True)
class EscalationDetail:
    """An escalation with its evidence, every notification sent for it, and its timeline."""

    escalation: Escalation
    evidence: list[EscalationEvidence]
    notifications: list[OutboxMessage]
    timeline: list[EscalationEvent]
    unreachable_clinicians: list[int]
    # Open, paged, and nobody on its chain can be texted right now (issue 15).
    unpageable: bool = False


def get_escalation(
    session: Session, *, viewer: User, escalation_id: int, now: datetime
) -> EscalationDetail:
    """One escalation of the viewer's clinic, in full (audited)."""
    escalation = _scoped(session, viewer=viewer, escalation_id=escalation_id)
    audit.record(
        session,
        actor=viewer,
        action="escalation.read",
        target_type="escalation",
        target_id=escalation.id,
        now=now,
    )
    return _detail(session, escalation)


def _detail(session: Session, escalation: Escalation) -> EscalationDetail:
    evidence = list(
        session.scalars(
            select(EscalationEvidence)
            .where(EscalationEvidence.escalation_id == escalation.id)
            .order_by(EscalationEvidence.id)
        )
    )
    timeline = list(
        session.scalars(
            select(EscalationEvent)
            .where(EscalationEvent.escalation_id == escalation.id)
            .order_by(EscalationEvent.id)
        )
    )
    notifications = list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.escalation_id == escalation.id)
            .order_by(OutboxMessage.id)
        )
    )
    unreachable = sorted(
        {
            int(e.detail["clinician_id"])
            for e in timeline
            # Both reasons a page could not go out; a missing phone is no less silent.
            if e.event == "page_skipped" and e.detail.get("reason") in ("sms_opted_out", "no_phone")
        }
    )
    return EscalationDetail(
        escalation,
        evidence,
        notifications,
        timeline,
        unreachable,
        unpageable=escalation.id in unpageable_ids(session, [escalation.id]),
    )


def _acknowledge(
    session: Session, *, escalation: Escalation, actor: User, via: str, now: datetime
) -> Escalation:
    if escalation.status == Status.RESOLVED:
        raise Conflict("This escalation is already resolved.")
    if escalation.status == Status.ACKNOWLEDGED:
        return escalation  # idempotent: a second ACK changes nothing
    escalation.status = Status.ACKNOWLEDGED
    escalation.acknowledged_at = now
    escalation.acknowledged_by = actor.id
    escalation.next_page_at = None
    escalation.updated_at = now
    add_event(session, escalation, "acknowledged", now=now, actor_id=actor.id, via=via)
    oncall.escalation_acknowledged(session, escalation=escalation, now=now)
    audit.record(
        session,
        actor=actor,
        action="escalation.acknowledge",
        target_type="escalation",
        target_id=escalation.id,
        now=now,
        detail={"via": via},
    )
    return escalation


def acknowledge(
    session: Session, *, viewer: User, escalation_id: int, now: datetime
) -> EscalationDetail:
    """Acknowledge from the inbox: paging stops (409 once resolved; a repeat is a no-op)."""
    escalation = locked(
        session, Escalation.id == escalation_id, Escalation.clinic_id == viewer.clinic_id
    )
    if escalation is None:
        raise NotFound("No such escalation.")
    _acknowledge(session, escalation=escalation, actor=viewer, via="api", now=now)
    return _detail(session, escalation)


def resolve(
    session: Session, *, viewer: User, escalation_id: int, note: str, now: datetime
) -> EscalationDetail:
    """Close an escalation with a note of what was done (409 when already resolved)."""
    note = note.strip()
    if not 1 <= len(note) <= NOTE_MAX:
        raise Invalid({"note": [f"A note of 1 to {NOTE_MAX} characters is required."]})
    escalation = locked(
        session, Escalation.id == escalation_id, Escalation.clinic_id == viewer.clinic_id
    )
    if escalation is None:
        raise NotFound("No such escalation.")
    if escalation.status == Status.RESOLVED:
        raise Conflict("This escalation is already resolved.")
    if escalation.status == Status.OPEN:
        # Resolving implies the clinician has seen it.
        _acknowledge(session, escalation=escalation, actor=viewer, via="resolve", now=now)
    escalation.status = Status.RESOLVED
    escalation.resolved_at = now
    escalation.resolved_by = viewer.id
    escalation.resolution_note = note
    escalation.next_page_at = None
    escalation.updated_at = now
    add_event(session, escalation, "resolved", now=now, actor_id=viewer.id)
    oncall.escalation_resolved(session, escalation=escalation, now=now)
    audit.record(
        session,
        actor=viewer,
        action="escalation.resolve",
        target_type="escalation",
        target_id=escalation.id,
        now=now,
    )
    return _detail(session, escalation)


def reassign(
    session: Session, *, viewer: User, escalation_id: int, clinician_id: int, now: datetime
) -> EscalationDetail:
    """Hand an escalation to another clinician of the clinic, who is texted about it."""
    escalation = locked(
        session, Escalation.id == escalation_id, Escalation.clinic_id == viewer.clinic_id
    )
    if escalation is None:
        raise NotFound("No such escalation.")
    if escalation.status == Status.RESOLVED:
        raise Conflict("This escalation is already resolved.")
    assignee = active_clinician(session, clinician_id, clinic_id=viewer.clinic_id)
    if assignee is None:
        raise Invalid({"clinician_id": ["Must be an active clinician of your clinic."]})
    previous = escalation.assigned_to
    if assignee.id != previous and paging.is_paged(escalation.priority):
        # Handing a paged escalation to someone no text can reach would leave it with
        # nobody who knows: refuse, and say why, so the sender picks someone reachable.
        if assignee.sms_opted_out:
            raise Conflict(
                f"Clinician {assignee.id} cannot be texted: they opted out of SMS (texted "
                "STOP). Choose another clinician, or ask them to text START first."
            )
        if not assignee.phone:
            raise Conflict(
                f"Clinician {assignee.id} cannot be texted: they have no phone number. "
                "Choose another clinician, or add their phone first."
            )
    escalation.assigned_to = assignee.id
    escalation.updated_at = now
    texted = False
    if assignee.id != previous and paging.is_paged(escalation.priority):
        texted = flow.notify_assignee(session, escalation=escalation, clinician=assignee, now=now)
    add_event(
        session,
        escalation,
        "reassigned",
        now=now,
        actor_id=viewer.id,
        from_clinician_id=previous,
        to_clinician_id=assignee.id,
        texted=texted,
    )
    audit.record(
        session,
        actor=viewer,
        action="escalation.reassign",
        target_type="escalation",
        target_id=escalation.id,
        now=now,
        detail={"from": previous, "to": assignee.id},
    )
    return _detail(session, escalation)


def acknowledge_by_sms(
    session: Session, *, clinician: User, escalation_id: int, now: datetime, via: str = "sms"
) -> bool:
    """An ``ACK <id>`` from a clinician's phone; False when it is not theirs to acknowledge."""
    escalation = locked(
        session, Escalation.id == escalation_id, Escalation.clinic_id == clinician.clinic_id
    )
    if (
        escalation is None
        or escalation.status == Status.RESOLVED
        or clinician.role != Role.CLINICIAN
    ):
        return False
    _acknowledge(session, escalation=escalation, actor=clinician, via=via, now=now)
    return True
