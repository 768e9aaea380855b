"""Escalations: flags become escalations, page the on-call chain, and wait for a clinician.

Everything here runs inside the caller's transaction (a request's or a job's unit of
work): the escalation, its evidence, its timeline and its pages are stored together or
not at all, so a flag is never lost between being raised and being paged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, case, select
from sqlalchemy.orm import Session

from clinical.errors import InvalidInput
from clinical.rules import (
    DEFAULTS,
    KINDS,
    PRIORITIES,
    RULES_VERSION,
    EscalationRules,
    Flag,
    highest_per_kind,
    priority_rank,
)
from notifications import oncall, paging, texts
from notifications.outbox import enqueue_sms
from services import audit
from services.clinics import effective_policy
from services.errors import Conflict, Invalid, NotFound
from services.pagination import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor
from store.escalations import STATUSES, Escalation, EscalationEvent, EscalationEvidence
from store.models import Clinic, OutboxMessage, PatientProfile, SmsAttempt, User

if TYPE_CHECKING:
    from services.runtime import Runtime

log = logging.getLogger("tandem.escalations")

OPEN = "open"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"
UNRESOLVED = (OPEN, ACKNOWLEDGED)
URGENT = "urgent"
SOURCE_TYPES = ("phq9", "symptom_report", "session", "schedule")
NOTE_MAX = 2000
# Twilio delivery statuses after which nothing further happens to a message.
FINAL_DELIVERY_STATUSES = ("delivered", "undelivered", "failed", "read", "canceled")
# Tells a clinic's clinicians that a colleague texted STOP (issue 15 item 1).
PAGING_NOTICE_PURPOSE = "paging_notice"
# Escalations a timer pass handles per transaction; the job loops over batches.
ADVANCE_BATCH = 100


@dataclass(frozen=True)
class EscalationRef:
    """What a submission's response says about the escalation it raised or joined."""

    id: int
    kind: str
    priority: str


def clinic_rules(clinic: Clinic) -> EscalationRules:
    """The clinic's escalation thresholds: its overrides over the product defaults."""
    stored = clinic.escalation_rules or {}
    if not stored:
        return DEFAULTS
    try:
        return EscalationRules.from_mapping(stored)
    except InvalidInput as error:
        # Stored settings were validated when saved; if they are somehow unusable, the
        # defaults still judge the answers, because not judging them could miss a crisis.
        log.error("clinic %s has unusable escalation rules %s; using defaults", clinic.id, error)
        return DEFAULTS


def _policy(session: Session, clinic_id: int) -> dict[str, Any]:
    clinic = session.get(Clinic, clinic_id)
    return effective_policy(clinic.escalation_policy if clinic else None)


def _lock_patient(session: Session, patient: PatientProfile) -> None:
    # Serialises concurrent submissions of one patient so two can never open two
    # escalations of the same kind (SQLite's BEGIN IMMEDIATE serialises writers already).
    # FOR NO KEY UPDATE, not FOR UPDATE: the submission's own insert already holds a
    # KEY SHARE lock on this row (its foreign key), which FOR UPDATE would deadlock against.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(PatientProfile.user_id)
            .where(PatientProfile.user_id == patient.user_id)
            .with_for_update(key_share=True)
        )


def _add_evidence(
    session: Session,
    escalation: Escalation,
    flag: Flag,
    *,
    event: str,
    source_type: str,
    source_id: int | None,
    now: datetime,
    **timeline: Any,
) -> None:
    """Keep what fired (rule, version, triggering answers) and say so on the timeline."""
    session.add(
        EscalationEvidence(
            escalation_id=escalation.id,
            source_type=source_type,
            source_id=source_id,
            rule=flag.rule,
            rule_version=RULES_VERSION,
            priority=flag.priority,
            detail=dict(flag.evidence),
            at=now,
        )
    )
    paging.add_event(
        session,
        escalation,
        event,
        now=now,
        priority=flag.priority,
        rule=flag.rule,
        rule_version=RULES_VERSION,
        source_type=source_type,
        source_id=source_id,
        **timeline,
    )


def raise_escalations(
    session: Session,
    *,
    patient: PatientProfile,
    flags: Sequence[Flag],
    source_type: str,
    source_id: int | None,
    now: datetime,
) -> list[EscalationRef]:
    """Create or merge one escalation per flag kind, with evidence, timeline and pages.

    Returns the escalations touched, highest priority first.
    """
    if source_type not in SOURCE_TYPES:
        raise ValueError(f"unknown escalation source {source_type!r}")
    flags = highest_per_kind(flags)
    if not flags:
        return []
    _lock_patient(session, patient)
    policy = _policy(session, patient.clinic_id)
    refs: list[EscalationRef] = []
    for flag in flags:
        existing = session.scalars(
            select(Escalation).where(
                Escalation.patient_id == patient.user_id,
                Escalation.kind == flag.kind,
                Escalation.status.in_(UNRESOLVED),
            )
        ).first()
        if existing is None:
            escalation = _create(
                session,
                patient=patient,
                flag=flag,
                policy=policy,
                source_type=source_type,
                source_id=source_id,
                now=now,
            )
        else:
            escalation = _merge(
                session,
                escalation=existing,
                patient=patient,
                flag=flag,
                policy=policy,
                source_type=source_type,
                source_id=source_id,
                now=now,
            )
        refs.append(EscalationRef(escalation.id, escalation.kind, escalation.priority))
    refs.sort(key=lambda r: -priority_rank(r.priority))
    return refs


def _create(
    session: Session,
    *,
    patient: PatientProfile,
    flag: Flag,
    policy: dict[str, Any],
    source_type: str,
    source_id: int | None,
    now: datetime,
) -> Escalation:
    escalation = Escalation(
        clinic_id=patient.clinic_id,
        patient_id=patient.user_id,
        kind=flag.kind,
        priority=flag.priority,
        status=OPEN,
        tier=0,
        cycle=0,
        chain=0,
        paging_exhausted=False,
        created_at=now,
        updated_at=now,
    )
    session.add(escalation)
    session.flush()  # the id goes into the evidence, the timeline and the pages' texts
    _add_evidence(
        session,
        escalation,
        flag,
        event="created",
        source_type=source_type,
        source_id=source_id,
        now=now,
    )
    audit.record(
        session,
        actor=None,
        action="escalation.create",
        target_type="escalation",
        target_id=escalation.id,
        clinic_id=escalation.clinic_id,
        now=now,
        detail={"kind": flag.kind, "priority": flag.priority},
    )
    if paging.is_paged(flag.priority):
        paging.start_chain(session, escalation=escalation, patient=patient, policy=policy, now=now)
    else:
        paging.add_event(session, escalation, "inbox_only", now=now)
    return escalation


def _merge(
    session: Session,
    *,
    escalation: Escalation,
    patient: PatientProfile,
    flag: Flag,
    policy: dict[str, Any],
    source_type: str,
    source_id: int | None,
    now: datetime,
) -> Escalation:
    raised = priority_rank(flag.priority) > priority_rank(escalation.priority)
    _add_evidence(
        session,
        escalation,
        flag,
        event="evidence_added",
        source_type=source_type,
        source_id=source_id,
        now=now,
        raises_priority=raised,
    )
    escalation.updated_at = now
    if not raised:
        if flag.priority == URGENT and escalation.status == ACKNOWLEDGED:
            # The acknowledgement covered the evidence seen then, not this. The escalation
            # needs acknowledging again (status open); its acknowledger is paged at once,
            # and the chain starts again if nobody acknowledges within the urgent time-out.
            acknowledger = _acknowledger(session, escalation)
            _reopen(session, escalation, now=now)
            paging.page_previous_acknowledger(
                session,
                escalation=escalation,
                clinician=acknowledger,
                policy=policy,
                patient=patient,
                now=now,
            )
            return escalation
        if paging.is_paged(flag.priority) and escalation.paging_exhausted:
            # Nobody ever answered the chain: a new danger signal pages afresh instead of
            # sitting unseen as evidence. (An acknowledged one is in a clinician's hands.)
            paging.start_chain(
                session, escalation=escalation, patient=patient, policy=policy, now=now
            )
        return escalation
    previous = escalation.priority
    escalation.priority = flag.priority
    paging.add_event(
        session,
        escalation,
        "priority_raised",
        now=now,
        from_priority=previous,
        to_priority=flag.priority,
    )
    if paging.is_paged(flag.priority):
        # A graver flag needs a fresh acknowledgement: the earlier one was for less.
        acknowledger = _acknowledger(session, escalation)
        _reopen(session, escalation, now=now)
        paging.start_chain(session, escalation=escalation, patient=patient, policy=policy, now=now)
        if acknowledger is not None and paging.can_be_texted(acknowledger):
            # Whoever took the lesser flag hears of the graver one at once, whatever tier.
            paging.page_into_current_tier(
                session, escalation=escalation, clinician=acknowledger, now=now
            )
    return escalation


def _acknowledger(session: Session, escalation: Escalation) -> User | None:
    """The clinician who acknowledged, while still an active clinician of the clinic."""
    if escalation.status != ACKNOWLEDGED or escalation.acknowledged_by is None:
        return None
    clinician = session.get(User, escalation.acknowledged_by)
    if (
        clinician is None
        or clinician.role != "clinician"
        or clinician.clinic_id != escalation.clinic_id
        or not clinician.is_active
        or clinician.deleted_at is not None
    ):
        return None
    return clinician


def _reopen(session: Session, escalation: Escalation, *, now: datetime) -> None:
    """Clear an acknowledgement so the escalation pages and counts as open again."""
    if escalation.status != ACKNOWLEDGED:
        return
    escalation.status = OPEN
    paging.add_event(
        session,
        escalation,
        "reopened",
        now=now,
        previous_acknowledged_by=escalation.acknowledged_by,
    )
    escalation.acknowledged_at = None
    escalation.acknowledged_by = None


# --- The timer: move unacknowledged escalations up the chain -------------------------------


def _due_query(now: datetime, dialect: str) -> Select[Any]:
    query = (
        select(Escalation)
        .where(
            Escalation.status == OPEN,
            Escalation.next_page_at.is_not(None),
            Escalation.next_page_at <= now,
        )
        .order_by(Escalation.next_page_at, Escalation.id)
        .limit(ADVANCE_BATCH)
    )
    if dialect == "postgresql":
        # Several scheduler processes may run; each takes different escalations.
        query = query.with_for_update(skip_locked=True, of=Escalation)
    return query


def advance_due(session: Session, *, now: datetime) -> int:
    """Page the next tier of every open escalation whose tier timed out (one batch)."""
    dialect = session.get_bind().dialect.name
    escalations = session.scalars(_due_query(now, dialect)).all()
    for escalation in escalations:
        try:
            # One escalation that cannot be advanced must not hold up every other one.
            with session.begin_nested():
                _advance(session, escalation, now=now, reason="ack_timeout")
        except Exception:
            # Not swallowed: logged with its id, and the escalation stays due for the next run.
            log.exception("escalation %s could not be advanced; retried next run", escalation.id)
    return len(escalations)


def _advance(session: Session, escalation: Escalation, *, now: datetime, reason: str) -> None:
    """Page the escalation's next clinician or tier under its clinic's policy."""
    patient = session.get(PatientProfile, escalation.patient_id)
    assert patient is not None
    paging.advance(
        session,
        escalation=escalation,
        patient=patient,
        policy=_policy(session, escalation.clinic_id),
        now=now,
        reason=reason,
    )


def advance_unacknowledged(rt: Runtime, *, max_batches: int = 50) -> int:
    """The scheduler job: advance every timed-out escalation; returns how many moved."""
    total = 0
    for _ in range(max_batches):
        with rt.database.unit_of_work() as session:
            moved = advance_due(session, now=rt.clock.now())
        total += moved
        if moved < ADVANCE_BATCH:
            break
    return total


# --- Pages that did not get through -------------------------------------------------------


def page_undeliverable(session: Session, message: OutboxMessage, now: datetime) -> None:
    """A page failed for good or was reported undelivered: move on at once if it was the last hope.

    Registered as the dispatcher's failure listener and called by the status callback.
    """
    if message.purpose != paging.PAGE_PURPOSE or message.escalation_id is None:
        return
    escalation = _locked(session, Escalation.id == message.escalation_id)
    if escalation is None:
        return
    paging.add_event(
        session,
        escalation,
        "page_failed",
        now=now,
        clinician_id=message.recipient_id,
        tier=message.escalation_tier,
        message_id=message.id,
        error_code=message.error_code,
        delivery_status=message.delivery_status,
    )
    if escalation.status != OPEN or not paging.is_current_page(escalation, message):
        return
    if paging.current_tier_alive(session, escalation=escalation):
        return  # someone else in this tier may still see the page before the time-out
    _advance(session, escalation, now=now, reason="page_undeliverable")


def _locked(session: Session, *conditions: Any) -> Escalation | None:
    """The escalation matching ``conditions``, row-locked on PostgreSQL until commit."""
    query = select(Escalation).where(*conditions)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).first()


def record_delivery_status(
    session: Session,
    *,
    message_sid: str,
    status: str,
    error_code: int | None,
    now: datetime,
) -> bool:
    """Store one Twilio status callback; False when no message has that SID."""
    message = session.scalars(
        select(OutboxMessage).where(OutboxMessage.twilio_sid == message_sid)
    ).first()
    if message is None:
        return False
    previous = message.delivery_status
    # Callbacks can arrive out of order: a late "sent" never hides "delivered" or "failed".
    if previous not in FINAL_DELIVERY_STATUSES:
        message.delivery_status = status[:16]
    if error_code is not None:
        message.error_code = error_code
    message.updated_at = now
    session.add(
        SmsAttempt(
            message_id=message.id,
            at=now,
            event="status",
            outcome=status[:32],
            twilio_sid=message_sid,
            error_code=error_code,
        )
    )
    if status in paging.UNDELIVERED and previous not in FINAL_DELIVERY_STATUSES:
        session.flush()
        page_undeliverable(session, message, now)
    return True


# --- The clinician's inbox ---------------------------------------------------------------


def _scoped(session: Session, *, viewer: User, escalation_id: int) -> Escalation:
    escalation = session.get(Escalation, escalation_id)
    if escalation is None or escalation.clinic_id != viewer.clinic_id:
        raise NotFound("No such escalation.")
    return escalation


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
    status_rank = case({OPEN: 0, ACKNOWLEDGED: 1}, value=Escalation.status, else_=2)
    priority_order = case(
        {p: priority_rank(p) for p in PRIORITIES}, value=Escalation.priority, else_=0
    )
    # Nobody can be paged for it: it leads the inbox, above every other open item.
    unpageable_rank = case((paging.unpageable_clause(), 0), else_=1)
    # The ordering has no single monotonic key, so the cursor is a position in it.
    offset = decode_cursor(cursor) if cursor else 0
    rows = list(
        session.scalars(
            query.order_by(
                status_rank,
                unpageable_rank,
                priority_order.desc(),
                Escalation.created_at,
                Escalation.id,
            )
            .offset(offset)
            .limit(limit + 1)
        )
    )
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
    if escalation.status == RESOLVED:
        raise Conflict("This escalation is already resolved.")
    if escalation.status == ACKNOWLEDGED:
        return escalation  # idempotent: a second ACK changes nothing
    escalation.status = ACKNOWLEDGED
    escalation.acknowledged_at = now
    escalation.acknowledged_by = actor.id
    escalation.next_page_at = None
    escalation.updated_at = now
    paging.add_event(session, escalation, "acknowledged", now=now, actor_id=actor.id, via=via)
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
    escalation = _locked(
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
    escalation = _locked(
        session, Escalation.id == escalation_id, Escalation.clinic_id == viewer.clinic_id
    )
    if escalation is None:
        raise NotFound("No such escalation.")
    if escalation.status == RESOLVED:
        raise Conflict("This escalation is already resolved.")
    if escalation.status == OPEN:
        # Resolving implies the clinician has seen it.
        _acknowledge(session, escalation=escalation, actor=viewer, via="resolve", now=now)
    escalation.status = RESOLVED
    escalation.resolved_at = now
    escalation.resolved_by = viewer.id
    escalation.resolution_note = note
    escalation.next_page_at = None
    escalation.updated_at = now
    paging.add_event(session, escalation, "resolved", now=now, actor_id=viewer.id)
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
    escalation = _locked(
        session, Escalation.id == escalation_id, Escalation.clinic_id == viewer.clinic_id
    )
    if escalation is None:
        raise NotFound("No such escalation.")
    if escalation.status == RESOLVED:
        raise Conflict("This escalation is already resolved.")
    assignee = session.get(User, clinician_id)
    if (
        assignee is None
        or assignee.role != "clinician"
        or assignee.clinic_id != viewer.clinic_id
        or not assignee.is_active
        or assignee.deleted_at is not None
    ):
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
        texted = paging.notify_assignee(session, escalation=escalation, clinician=assignee, now=now)
    paging.add_event(
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
    escalation = _locked(
        session, Escalation.id == escalation_id, Escalation.clinic_id == clinician.clinic_id
    )
    if escalation is None or escalation.status == RESOLVED or clinician.role != "clinician":
        return False
    _acknowledge(session, escalation=escalation, actor=clinician, via=via, now=now)
    return True


# --- Reachability: clinicians leaving and rejoining paging (issue 15 item 1) -------------


def unpageable_ids(session: Session, escalation_ids: Sequence[int]) -> set[int]:
    """Which of these escalations are open, paged, and have nobody on their chain to text."""
    if not escalation_ids:
        return set()
    return set(
        session.scalars(
            select(Escalation.id).where(
                Escalation.id.in_(list(escalation_ids)), paging.unpageable_clause()
            )
        )
    )


def unreachable_clinics(session: Session) -> list[int]:
    """Clinics with an open paged escalation that nobody can be paged for (for /readyz)."""
    return list(
        session.scalars(
            select(Escalation.clinic_id)
            .where(paging.unpageable_clause())
            .distinct()
            .order_by(Escalation.clinic_id)
        )
    )


def _open_paged(session: Session, clinic_id: int) -> list[Escalation]:
    query = (
        select(Escalation)
        .where(
            Escalation.clinic_id == clinic_id,
            Escalation.status == OPEN,
            Escalation.priority.in_(paging.PAGED_PRIORITIES),
        )
        .order_by(Escalation.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        # The timer may be moving the same escalations; each is changed by one at a time.
        query = query.with_for_update(of=Escalation)
    return list(session.scalars(query))


def clinician_left_paging(session: Session, *, clinician: User, now: datetime) -> None:
    """A clinician texted STOP: tell their colleagues, and let no escalation wait on nobody.

    The clinic's other reachable clinicians get a text (no names, no PHI) that a colleague
    left paging. Every open escalation that nobody can be paged for any more moves on at once,
    so the chain ends now and the clinic's fallback phone is texted, instead of the chain
    skipping an empty roster for three cycles of time-outs.
    """
    if clinician.role != "clinician" or clinician.clinic_id is None:
        return
    colleagues = session.scalars(
        select(User)
        .where(
            User.clinic_id == clinician.clinic_id,
            User.role == "clinician",
            User.id != clinician.id,
            User.is_active.is_(True),
            User.deleted_at.is_(None),
            User.sms_opted_out.is_(False),
        )
        .order_by(User.id)
    ).all()
    told = 0
    for colleague in colleagues:
        if paging.can_be_texted(colleague):
            assert colleague.phone is not None
            told += 1
            enqueue_sms(
                session,
                to=colleague.phone,
                body=texts.colleague_left_paging(),
                purpose=PAGING_NOTICE_PURPOSE,
                now=now,
                recipient_id=colleague.id,
                dedupe_key=f"left-paging:{clinician.id}:{now.isoformat()}:{colleague.id}",
                priority=paging.OUTBOX_PRIORITY["high"],
            )
    fallback = _policy(session, clinician.clinic_id).get("fallback_phone")
    if not told and fallback:
        # Nobody is left to tell, or to page: the clinic's duty phone hears of it now.
        enqueue_sms(
            session,
            to=fallback,
            body=texts.nobody_pageable(),
            purpose=PAGING_NOTICE_PURPOSE,
            now=now,
            dedupe_key=f"left-paging:{clinician.id}:{now.isoformat()}:fallback",
            priority=paging.OUTBOX_PRIORITY["high"],
        )
    session.flush()  # the opt-out itself must be visible to the reachability query
    stranded = unpageable_ids(
        session,
        [e.id for e in _open_paged(session, clinician.clinic_id) if e.next_page_at is not None],
    )
    for escalation_id in sorted(stranded):
        escalation = session.get(Escalation, escalation_id)
        assert escalation is not None
        paging.add_event(
            session, escalation, "clinician_left_paging", now=now, clinician_id=clinician.id
        )
        _advance(session, escalation, now=now, reason="nobody_reachable")


def clinician_rejoined_paging(session: Session, *, clinician: User, now: datetime) -> int:
    """A clinician texted START: resume paging every open, unacknowledged escalation.

    An escalation whose chain ended (exhausted, or nobody was reachable) starts a fresh
    chain, when someone on it can be texted now. One whose chain is still running pages
    the returning clinician at once as part of the step it is on, if they are on that
    patient's chain and were not paged in this step already. Returns how many escalations
    were touched; a repeated START touches none (no double pages).
    """
    if clinician.role != "clinician" or clinician.clinic_id is None or not clinician.is_active:
        return 0
    session.flush()  # the opt-in itself must be visible to the reachability query
    touched = 0
    policy = _policy(session, clinician.clinic_id)
    escalations = _open_paged(session, clinician.clinic_id)
    stranded = unpageable_ids(session, [e.id for e in escalations])
    for escalation in escalations:
        patient = session.get(PatientProfile, escalation.patient_id)
        assert patient is not None
        if escalation.paging_exhausted or escalation.next_page_at is None:
            if escalation.id in stranded:
                continue  # still nobody to text for this patient: a new chain would reach no one
            paging.add_event(
                session, escalation, "paging_resumed", now=now, clinician_id=clinician.id
            )
            paging.start_chain(
                session, escalation=escalation, patient=patient, policy=policy, now=now
            )
            touched += 1
            continue
        on_chain = any(
            c.id == clinician.id
            for t in paging.tiers_for(session, patient=patient, now=now)
            for c in t.clinicians
        )
        if on_chain and paging.page_into_current_tier(
            session, escalation=escalation, clinician=clinician, now=now
        ):
            paging.add_event(
                session, escalation, "paging_resumed", now=now, clinician_id=clinician.id
            )
            touched += 1
    return touched
