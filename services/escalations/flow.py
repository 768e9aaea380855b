"""The paging flow: start a chain, page its tiers, move on, repeat, and fall back.

Every change of an escalation's paging position (tier, cycle, chain, ``paging_exhausted``,
``next_page_at``) happens here, under the typed policy of ``notifications.paging``. Pages
are outbox rows written in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifications import oncall, pager, texts
from notifications.outbox import FAILED, enqueue_sms
from notifications.paging import (
    ASSIGN_PURPOSE,
    PAGE_PURPOSE,
    UNDELIVERED,
    PagingPolicy,
    Tier,
    can_be_texted,
    fallback_key,
    order_tiers,
    outbox_priority,
    page_key,
    position,
    tier_prefix,
)
from services.escalations.state import active_clinicians, add_event, paging_policy
from store.escalations import Escalation
from store.models import OutboxMessage, PatientProfile, Role, User


def tiers_for(
    session: Session, *, patient: PatientProfile, now: datetime | None = None
) -> list[Tier]:
    """The patient's clinic's chain, non-empty tiers only, tier 1 led by the care team.

    Where the clinic's on-call schedule names someone for a tier at ``now``, that person is
    the tier (after the care team for tier 1); other tiers follow ``on_call_tier``.
    """
    scheduled = (
        oncall.scheduled_on_call(session, clinic_id=patient.clinic_id, at=now)
        if now is not None
        else {}
    )
    on_call = session.scalars(
        select(User)
        .where(
            *active_clinicians(patient.clinic_id),
            User.on_call_tier.is_not(None),
        )
        .order_by(User.on_call_tier, User.id)
    ).all()
    care_team = [
        c
        for c in patient.care_team
        if c.role == Role.CLINICIAN
        and c.clinic_id == patient.clinic_id
        and c.is_active
        and c.deleted_at is None
    ]
    return order_tiers(care_team, on_call, scheduled)


def _page_clinician(
    session: Session, *, escalation: Escalation, tier: int, clinician: User, now: datetime
) -> None:
    """Queue one page (and the call the clinician's rules may add); note both on the timeline."""
    assert clinician.phone is not None
    message_id = enqueue_sms(
        session,
        to=clinician.phone,
        body=texts.escalation_page(escalation_id=escalation.id, priority=escalation.priority),
        purpose=PAGE_PURPOSE,
        now=now,
        recipient_id=clinician.id,
        escalation_id=escalation.id,
        escalation_tier=tier,
        dedupe_key=page_key(escalation, tier, clinician.id),
        priority=outbox_priority(escalation.priority),
    )
    # The clinician's notify rules may add a call if this page is not acknowledged.
    call = oncall.queue_voice(
        session, escalation=escalation, tier=tier, clinician=clinician, now=now
    )
    if call is not None:
        call_id, due_at = call
        add_event(
            session,
            escalation,
            "call_queued",
            now=now,
            clinician_id=clinician.id,
            tier=tier,
            cycle=escalation.cycle,
            message_id=call_id,
            due_at=due_at.isoformat(),
        )
    # None: already queued by an earlier run of this very step, which still counts as paged.
    if message_id is not None:
        add_event(
            session,
            escalation,
            "paged",
            now=now,
            clinician_id=clinician.id,
            tier=tier,
            cycle=escalation.cycle,
            message_id=message_id,
        )


def page_tier(session: Session, *, escalation: Escalation, tier: Tier, now: datetime) -> int:
    """Queue a page to every reachable clinician of ``tier``; returns how many were queued."""
    queued = 0
    for clinician in tier.clinicians:
        if not can_be_texted(clinician) or clinician.phone is None:
            reason = "sms_opted_out" if clinician.sms_opted_out else "no_phone"
            add_event(
                session,
                escalation,
                "page_skipped",
                now=now,
                clinician_id=clinician.id,
                tier=tier.number,
                cycle=escalation.cycle,
                reason=reason,
            )
            continue
        _page_clinician(
            session, escalation=escalation, tier=tier.number, clinician=clinician, now=now
        )
        queued += 1
    return queued


def _page_from(
    session: Session,
    *,
    escalation: Escalation,
    tiers: list[Tier],
    start: int,
    policy: PagingPolicy,
    now: datetime,
) -> bool:
    """Page the first tier from index ``start`` (wrapping into later cycles) that reaches anyone.

    Returns False, with the escalation marked exhausted, when the cycles run out first.
    """
    total_cycles = policy.cycles()
    index = start
    # Bounded: every tier of every remaining cycle at most once (nothing when no tier exists).
    for _ in range(len(tiers) * total_cycles + 1 if tiers else 0):
        if index >= len(tiers):
            if escalation.cycle >= total_cycles:
                break
            escalation.cycle += 1
            index = 0
            add_event(session, escalation, "chain_repeated", now=now, cycle=escalation.cycle)
        tier = tiers[index]
        escalation.tier = tier.number
        if page_tier(session, escalation=escalation, tier=tier, now=now):
            escalation.next_page_at = now + policy.ack_timeout(escalation.priority)
            escalation.updated_at = now
            return True
        index += 1
    escalation.next_page_at = None
    escalation.paging_exhausted = True
    escalation.updated_at = now
    add_event(
        session,
        escalation,
        "paging_exhausted",
        now=now,
        cycle=escalation.cycle,
        tiers=[t.number for t in tiers],
    )
    _page_fallback(session, escalation=escalation, policy=policy, now=now)
    return False


def _page_fallback(
    session: Session, *, escalation: Escalation, policy: PagingPolicy, now: datetime
) -> None:
    """Text the clinic's fallback phone, once per chain, when the chain reached nobody."""
    if not policy.fallback_phone:
        return
    message_id = enqueue_sms(
        session,
        to=policy.fallback_phone,
        body=texts.escalation_unanswered(escalation_id=escalation.id, priority=escalation.priority),
        purpose=PAGE_PURPOSE,
        now=now,
        escalation_id=escalation.id,
        dedupe_key=fallback_key(escalation),
        priority=outbox_priority(escalation.priority),
    )
    if message_id is not None:
        add_event(session, escalation, "fallback_paged", now=now, message_id=message_id)


def _new_chain(escalation: Escalation) -> None:
    escalation.chain += 1
    escalation.cycle = 1
    escalation.tier = 0
    escalation.paging_exhausted = False


def start_chain(
    session: Session,
    *,
    escalation: Escalation,
    patient: PatientProfile,
    policy: PagingPolicy,
    now: datetime,
) -> bool:
    """Page from tier 1 in a fresh chain; False when nobody at all could be paged."""
    _new_chain(escalation)
    tiers = tiers_for(session, patient=patient, now=now)
    # The clinic's own pager (if any) gets the alert too, whatever the chain reaches.
    pager.queue_event(session, escalation=escalation, action="trigger", now=now)
    return _page_from(session, escalation=escalation, tiers=tiers, start=0, policy=policy, now=now)


def advance(session: Session, *, escalation: Escalation, now: datetime, reason: str) -> bool:
    """Page the tier after the current one under the clinic's policy (the chain repeating)."""
    patient = session.get(PatientProfile, escalation.patient_id)
    assert patient is not None
    tiers = tiers_for(session, patient=patient, now=now)
    add_event(
        session,
        escalation,
        "tier_advanced",
        now=now,
        from_tier=escalation.tier,
        cycle=escalation.cycle,
        reason=reason,
    )
    return _page_from(
        session,
        escalation=escalation,
        tiers=tiers,
        start=position(tiers, escalation.tier + 1),
        policy=paging_policy(session, escalation.clinic_id),
        now=now,
    )


def current_tier_alive(session: Session, *, escalation: Escalation) -> bool:
    """Whether any page of the current tier, chain and cycle may still reach its clinician."""
    rows = session.execute(
        select(OutboxMessage.status, OutboxMessage.delivery_status).where(
            OutboxMessage.escalation_id == escalation.id,
            OutboxMessage.purpose == PAGE_PURPOSE,
            OutboxMessage.dedupe_key.startswith(
                tier_prefix(escalation, escalation.tier), autoescape=True
            ),
        )
    ).all()
    return any(
        status != FAILED and (delivery or "") not in UNDELIVERED for status, delivery in rows
    )


def notify_assignee(
    session: Session, *, escalation: Escalation, clinician: User, now: datetime
) -> bool:
    """Text a clinician that an escalation is now theirs; False when they cannot be texted."""
    if not can_be_texted(clinician) or clinician.phone is None:
        return False
    enqueue_sms(
        session,
        to=clinician.phone,
        body=texts.escalation_assigned(escalation_id=escalation.id, priority=escalation.priority),
        purpose=ASSIGN_PURPOSE,
        now=now,
        recipient_id=clinician.id,
        escalation_id=escalation.id,
        dedupe_key=f"assign:{escalation.id}:{clinician.id}:{now.isoformat()}",
        priority=outbox_priority(escalation.priority),
    )
    return True


def page_into_current_tier(
    session: Session, *, escalation: Escalation, clinician: User, now: datetime
) -> bool:
    """Page one clinician now as a member of the step the chain is on (a START mid-chain).

    The page carries the current step's dedupe key, so a clinician already paged in this
    step is not paged twice, and the timer and failure handling treat it like the others.
    False when nothing new was queued.
    """
    if not can_be_texted(clinician):
        return False
    key = page_key(escalation, escalation.tier, clinician.id)
    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)):
        return False
    queued = page_tier(
        session, escalation=escalation, tier=Tier(escalation.tier, (clinician,)), now=now
    )
    return queued > 0


def page_previous_acknowledger(
    session: Session,
    *,
    escalation: Escalation,
    clinician: User | None,
    policy: PagingPolicy,
    patient: PatientProfile,
    now: datetime,
) -> bool:
    """New urgent evidence on an acknowledged escalation: page its acknowledger at once.

    A fresh chain whose first step (tier 0) is that clinician alone; unacknowledged after
    the urgent time-out, the timer moves on to tier 1 and the whole chain starts again.
    When the acknowledger cannot be texted any more, the chain starts at once instead.
    """
    if clinician is None or not can_be_texted(clinician):
        return start_chain(session, escalation=escalation, patient=patient, policy=policy, now=now)
    _new_chain(escalation)
    page_tier(session, escalation=escalation, tier=Tier(0, (clinician,)), now=now)
    escalation.next_page_at = now + policy.ack_timeout(escalation.priority)
    escalation.updated_at = now
    return True
