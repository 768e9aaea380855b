"""Reachability: which escalations nobody can be paged for, and clinicians leaving or
rejoining paging (STOP and START, issue 15 item 1)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from clinical.vocabulary import Priority
from notifications import paging, texts
from notifications.outbox import enqueue_sms
from services.escalations import flow
from services.escalations.state import active_clinicians, add_event, paging_policy
from store.dialects import for_update
from store.escalations import Escalation, Status
from store.models import PatientProfile, Role, User, care_team

# Tells a clinic's clinicians that a colleague texted STOP (issue 15 item 1).
PAGING_NOTICE_PURPOSE = "paging_notice"


def unpageable_clause() -> ColumnElement[bool]:
    """SQL: an open, paged escalation that nobody on its chain can be texted for right now.

    The same membership as :func:`flow.tiers_for` (the clinic's active clinicians with an
    on-call tier, or on the patient's care team), filtered by ``paging.can_be_texted``.
    Correlated to the enclosing query on ``escalations``.
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
            *active_clinicians(Escalation.clinic_id),
            User.phone.is_not(None),
            User.phone != "",
            User.sms_opted_out.is_(False),
            on_chain,
        )
        .exists()
    )
    return and_(
        Escalation.status == Status.OPEN,
        Escalation.priority.in_(paging.PAGED_PRIORITIES),
        ~reachable,
    )


def unpageable_ids(session: Session, escalation_ids: Sequence[int]) -> set[int]:
    """Which of these escalations are open, paged, and have nobody on their chain to text."""
    if not escalation_ids:
        return set()
    return set(
        session.scalars(
            select(Escalation.id).where(
                Escalation.id.in_(list(escalation_ids)), unpageable_clause()
            )
        )
    )


def unreachable_clinics(session: Session) -> list[int]:
    """Clinics with an open paged escalation that nobody can be paged for (for /readyz)."""
    return list(
        session.scalars(
            select(Escalation.clinic_id)
            .where(unpageable_clause())
            .distinct()
            .order_by(Escalation.clinic_id)
        )
    )


def _open_paged(session: Session, clinic_id: int) -> list[Escalation]:
    query = (
        select(Escalation)
        .where(
            Escalation.clinic_id == clinic_id,
            Escalation.status == Status.OPEN,
            Escalation.priority.in_(paging.PAGED_PRIORITIES),
        )
        .order_by(Escalation.id)
    )
    # The timer may be moving the same escalations; each is changed by one at a time.
    return list(session.scalars(for_update(query, session, of=Escalation)))


def clinician_left_paging(session: Session, *, clinician: User, now: datetime) -> None:
    """A clinician texted STOP: tell their colleagues, and let no escalation wait on nobody.

    The clinic's other reachable clinicians get a text (no names, no PHI) that a colleague
    left paging. Every open escalation that nobody can be paged for any more moves on at once,
    so the chain ends now and the clinic's fallback phone is texted, instead of the chain
    skipping an empty roster for three cycles of time-outs.
    """
    if clinician.role != Role.CLINICIAN or clinician.clinic_id is None:
        return
    colleagues = session.scalars(
        select(User)
        .where(
            *active_clinicians(clinician.clinic_id),
            User.id != clinician.id,
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
                priority=paging.OUTBOX_PRIORITY[Priority.HIGH],
            )
    fallback = paging_policy(session, clinician.clinic_id).fallback_phone
    if not told and fallback:
        # Nobody is left to tell, or to page: the clinic's duty phone hears of it now.
        enqueue_sms(
            session,
            to=fallback,
            body=texts.nobody_pageable(),
            purpose=PAGING_NOTICE_PURPOSE,
            now=now,
            dedupe_key=f"left-paging:{clinician.id}:{now.isoformat()}:fallback",
            priority=paging.OUTBOX_PRIORITY[Priority.HIGH],
        )
    session.flush()  # the opt-out itself must be visible to the reachability query
    stranded = unpageable_ids(
        session,
        [e.id for e in _open_paged(session, clinician.clinic_id) if e.next_page_at is not None],
    )
    for escalation_id in sorted(stranded):
        escalation = session.get(Escalation, escalation_id)
        assert escalation is not None
        add_event(session, escalation, "clinician_left_paging", now=now, clinician_id=clinician.id)
        flow.advance(session, escalation=escalation, now=now, reason="nobody_reachable")


def clinician_rejoined_paging(session: Session, *, clinician: User, now: datetime) -> int:
    """A clinician texted START: resume paging every open, unacknowledged escalation.

    An escalation whose chain ended (exhausted, or nobody was reachable) starts a fresh
    chain, when someone on it can be texted now. One whose chain is still running pages
    the returning clinician at once as part of the step it is on, if they are on that
    patient's chain and were not paged in this step already. Returns how many escalations
    were touched; a repeated START touches none (no double pages).
    """
    if clinician.role != Role.CLINICIAN or clinician.clinic_id is None or not clinician.is_active:
        return 0
    session.flush()  # the opt-in itself must be visible to the reachability query
    touched = 0
    policy = paging_policy(session, clinician.clinic_id)
    escalations = _open_paged(session, clinician.clinic_id)
    stranded = unpageable_ids(session, [e.id for e in escalations])
    for escalation in escalations:
        patient = session.get(PatientProfile, escalation.patient_id)
        assert patient is not None
        if escalation.paging_exhausted or escalation.next_page_at is None:
            if escalation.id in stranded:
                continue  # still nobody to text for this patient: a new chain would reach no one
            add_event(session, escalation, "paging_resumed", now=now, clinician_id=clinician.id)
            flow.start_chain(
                session, escalation=escalation, patient=patient, policy=policy, now=now
            )
            touched += 1
            continue
        on_chain = any(
            c.id == clinician.id
            for t in flow.tiers_for(session, patient=patient, now=now)
            for c in t.clinicians
        )
        if on_chain and flow.page_into_current_tier(
            session, escalation=escalation, clinician=clinician, now=now
        ):
            add_event(session, escalation, "paging_resumed", now=now, clinician_id=clinician.id)
            touched += 1
    return touched
