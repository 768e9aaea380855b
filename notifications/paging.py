"""The paging policy: who is on call for an escalation, in which order, and when to move on.

PagerDuty/Opsgenie semantics per clinic. The tiers are the clinic's clinicians grouped by
``on_call_tier``; tier 1 is the patient's care team first, then the clinic's tier-1 on-call.
Every clinician of a tier is paged at once; unacknowledged after the tier's time-out the
next tier is paged; after the last tier the chain starts again, ``repeat`` cycles in all,
and then the escalation stays open, marked ``paging_exhausted``. Pages are outbox rows
written in the caller's transaction, each with a dedupe key naming the escalation, chain,
cycle, tier and clinician, so a retried job never queues the same page twice.

Clinician pages ignore quiet hours and patient opt-outs; a clinician who opted out of SMS
is skipped and the skip is recorded on the escalation's timeline for the inbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from notifications import oncall, pager, texts
from notifications.outbox import FAILED, enqueue_sms
from store.escalations import Escalation, EscalationEvent
from store.models import OutboxMessage, PatientProfile, User, care_team

PAGE_PURPOSE = "page"
ASSIGN_PURPOSE = "page_assign"
PAGED_PRIORITIES = ("urgent", "high")
# Outbox priority: pages go before reminders, urgent before high.
OUTBOX_PRIORITY = {"urgent": 100, "high": 50}
# Delivery statuses Twilio reports for a message that never reached the phone.
UNDELIVERED = ("undelivered", "failed")
DEFAULT_TIMEOUT_SECONDS = {"urgent": 600, "high": 1800}
DEFAULT_REPEAT = 3


@dataclass(frozen=True, slots=True)
class Tier:
    """One step of the chain: its number and the clinicians it pages, in order."""

    number: int
    clinicians: tuple[User, ...]


def is_paged(priority: str) -> bool:
    """Whether escalations of this priority page by SMS (routine goes to the inbox only)."""
    return priority in PAGED_PRIORITIES


def ack_timeout(policy: Mapping[str, Any], priority: str) -> timedelta:
    """How long a tier has to acknowledge before the next is paged."""
    timeouts = policy.get("ack_timeout_seconds") or {}
    seconds = timeouts.get(priority, DEFAULT_TIMEOUT_SECONDS.get(priority, 1800))
    return timedelta(seconds=max(1, int(seconds)))


def cycles(policy: Mapping[str, Any]) -> int:
    """How many times the whole chain is paged before paging stops (at least once)."""
    return max(1, int(policy.get("repeat", DEFAULT_REPEAT)))


def can_be_texted(clinician: User) -> bool:
    """Whether a page to this clinician can be sent at all (a phone, and no STOP)."""
    return bool(clinician.phone) and not clinician.sms_opted_out


def unpageable_clause() -> ColumnElement[bool]:
    """SQL: an open, paged escalation that nobody on its chain can be texted for right now.

    The same membership as :func:`tiers_for` (the clinic's active clinicians with an on-call
    tier, or on the patient's care team), filtered by :func:`can_be_texted`. Correlated to
    the enclosing query on ``escalations``.
    """
    on_chain = or_(
        User.on_call_tier.is_not(None),
        User.id.in_(
            select(care_team.c.clinician_id)
            .where(care_team.c.patient_id == Escalation.patient_id)
            .correlate(Escalation)
        ),
    )
    reachable = (
        select(User.id)
        .where(
            User.clinic_id == Escalation.clinic_id,
            User.role == "clinician",
            User.is_active.is_(True),
            User.deleted_at.is_(None),
            User.phone.is_not(None),
            User.phone != "",
            User.sms_opted_out.is_(False),
            on_chain,
        )
        .exists()
    )
    return and_(Escalation.status == "open", Escalation.priority.in_(PAGED_PRIORITIES), ~reachable)


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
            User.clinic_id == patient.clinic_id,
            User.role == "clinician",
            User.is_active.is_(True),
            User.deleted_at.is_(None),
            User.on_call_tier.is_not(None),
        )
        .order_by(User.on_call_tier, User.id)
    ).all()
    care_team = [
        c
        for c in patient.care_team
        if c.role == "clinician"
        and c.clinic_id == patient.clinic_id
        and c.is_active
        and c.deleted_at is None
    ]
    by_tier: dict[int, list[User]] = {1: list(care_team)}
    for clinician in on_call:
        assert clinician.on_call_tier is not None
        if clinician.on_call_tier not in scheduled:
            by_tier.setdefault(clinician.on_call_tier, []).append(clinician)
    for number, clinician in scheduled.items():
        by_tier.setdefault(number, []).append(clinician)
    tiers: list[Tier] = []
    for number in sorted(by_tier):
        seen: set[int] = set()
        members = []
        for clinician in by_tier[number]:
            if clinician.id not in seen:
                seen.add(clinician.id)
                members.append(clinician)
        if members:
            tiers.append(Tier(number, tuple(members)))
    return tiers


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


def page_key(escalation: Escalation, tier: int, clinician_id: int) -> str:
    """The outbox dedupe key of one page: one per chain, cycle, tier and clinician."""
    return f"page:{escalation.id}:{escalation.chain}.{escalation.cycle}:{tier}:{clinician_id}"


def _tier_prefix(escalation: Escalation, tier: int) -> str:
    return f"page:{escalation.id}:{escalation.chain}.{escalation.cycle}:{tier}:"


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
        message_id = enqueue_sms(
            session,
            to=clinician.phone,
            body=texts.escalation_page(escalation_id=escalation.id, priority=escalation.priority),
            purpose=PAGE_PURPOSE,
            now=now,
            recipient_id=clinician.id,
            escalation_id=escalation.id,
            escalation_tier=tier.number,
            dedupe_key=page_key(escalation, tier.number, clinician.id),
            priority=OUTBOX_PRIORITY.get(escalation.priority, 0),
        )
        # The clinician's notify rules may add a call if this page is not acknowledged.
        oncall.queue_voice(
            session, escalation=escalation, tier=tier.number, clinician=clinician, now=now
        )
        if message_id is not None:
            queued += 1
            add_event(
                session,
                escalation,
                "paged",
                now=now,
                clinician_id=clinician.id,
                tier=tier.number,
                cycle=escalation.cycle,
                message_id=message_id,
            )
        else:
            # Already queued by an earlier run of this very step: it still counts as paged.
            queued += 1
    return queued


def _position(tiers: list[Tier], tier_number: int) -> int:
    """Index of the first tier at or after ``tier_number`` (len(tiers) when none)."""
    for index, tier in enumerate(tiers):
        if tier.number >= tier_number:
            return index
    return len(tiers)


def _page_from(
    session: Session,
    *,
    escalation: Escalation,
    tiers: list[Tier],
    start: int,
    policy: Mapping[str, Any],
    now: datetime,
) -> bool:
    """Page the first tier from index ``start`` (wrapping into later cycles) that reaches anyone.

    Returns False, with the escalation marked exhausted, when the cycles run out first.
    """
    total_cycles = cycles(policy)
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
            escalation.next_page_at = now + ack_timeout(policy, escalation.priority)
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
    session: Session, *, escalation: Escalation, policy: Mapping[str, Any], now: datetime
) -> None:
    """Text the clinic's fallback phone, once per chain, when the chain reached nobody."""
    phone = policy.get("fallback_phone")
    if not phone:
        return
    message_id = enqueue_sms(
        session,
        to=phone,
        body=texts.escalation_unanswered(escalation_id=escalation.id, priority=escalation.priority),
        purpose=PAGE_PURPOSE,
        now=now,
        escalation_id=escalation.id,
        dedupe_key=f"page:{escalation.id}:{escalation.chain}:fallback",
        priority=OUTBOX_PRIORITY.get(escalation.priority, 0),
    )
    if message_id is not None:
        add_event(session, escalation, "fallback_paged", now=now, message_id=message_id)


def start_chain(
    session: Session,
    *,
    escalation: Escalation,
    patient: PatientProfile,
    policy: Mapping[str, Any],
    now: datetime,
) -> bool:
    """Page from tier 1 in a fresh chain; False when nobody at all could be paged."""
    escalation.chain += 1
    escalation.cycle = 1
    escalation.tier = 0
    escalation.paging_exhausted = False
    tiers = tiers_for(session, patient=patient, now=now)
    # The clinic's own pager (if any) gets the alert too, whatever the chain reaches.
    pager.queue_event(session, escalation=escalation, action="trigger", now=now)
    return _page_from(session, escalation=escalation, tiers=tiers, start=0, policy=policy, now=now)


def advance(
    session: Session,
    *,
    escalation: Escalation,
    patient: PatientProfile,
    policy: Mapping[str, Any],
    now: datetime,
    reason: str,
) -> bool:
    """Page the tier after the current one (the chain repeating as the policy allows)."""
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
    start = _position(tiers, escalation.tier + 1)
    return _page_from(
        session, escalation=escalation, tiers=tiers, start=start, policy=policy, now=now
    )


def current_tier_alive(session: Session, *, escalation: Escalation) -> bool:
    """Whether any page of the current tier, chain and cycle may still reach its clinician."""
    rows = session.execute(
        select(OutboxMessage.status, OutboxMessage.delivery_status).where(
            OutboxMessage.escalation_id == escalation.id,
            OutboxMessage.purpose == PAGE_PURPOSE,
            OutboxMessage.dedupe_key.startswith(
                _tier_prefix(escalation, escalation.tier), autoescape=True
            ),
        )
    ).all()
    return any(
        status != FAILED and (delivery or "") not in UNDELIVERED for status, delivery in rows
    )


def is_current_page(escalation: Escalation, message: OutboxMessage) -> bool:
    """Whether ``message`` is a page of the escalation's current chain, cycle and tier."""
    return message.purpose == PAGE_PURPOSE and (message.dedupe_key or "").startswith(
        _tier_prefix(escalation, escalation.tier)
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
        priority=OUTBOX_PRIORITY.get(escalation.priority, 0),
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
    policy: Mapping[str, Any],
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
    escalation.chain += 1
    escalation.cycle = 1
    escalation.tier = 0
    escalation.paging_exhausted = False
    page_tier(session, escalation=escalation, tier=Tier(0, (clinician,)), now=now)
    escalation.next_page_at = now + ack_timeout(policy, escalation.priority)
    escalation.updated_at = now
    return True
