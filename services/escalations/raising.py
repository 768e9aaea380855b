"""Raising escalations: flags become escalations, or join the open one of their kind.

Everything runs inside the caller's transaction (a request's or a job's unit of work): the
escalation, its evidence, its timeline and its pages are stored together or not at all, so
a flag is never lost between being raised and being paged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinical.errors import InvalidInput
from clinical.rules import (
    DEFAULTS,
    RULES_VERSION,
    EscalationRules,
    Flag,
    highest_per_kind,
    priority_rank,
)
from clinical.vocabulary import Priority
from notifications import paging
from notifications.paging import PagingPolicy
from services import audit
from services.escalations import flow
from services.escalations.state import active_clinician, add_event, paging_policy
from store.escalations import Escalation, EscalationEvidence, Status
from store.locks import lock_patient
from store.models import Clinic, PatientProfile, User

log = logging.getLogger("tandem.escalations")

UNRESOLVED = (Status.OPEN, Status.ACKNOWLEDGED)
SOURCE_TYPES = ("phq9", "symptom_report", "session", "schedule")


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


@dataclass(frozen=True)
class _Raising:
    """One submission's flags being raised: whose, under which policy, from what, and when."""

    patient: PatientProfile
    policy: PagingPolicy
    source_type: str
    source_id: int | None
    now: datetime


def _add_evidence(
    session: Session,
    escalation: Escalation,
    flag: Flag,
    *,
    event: str,
    raising: _Raising,
    **timeline: Any,
) -> None:
    """Keep what fired (rule, version, triggering answers) and say so on the timeline."""
    source_type, source_id, now = raising.source_type, raising.source_id, raising.now
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
    add_event(
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
    lock_patient(session, patient)
    raising = _Raising(
        patient, paging_policy(session, patient.clinic_id), source_type, source_id, now
    )
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
            escalation = _create(session, flag=flag, raising=raising)
        else:
            escalation = _merge(session, escalation=existing, flag=flag, raising=raising)
        refs.append(EscalationRef(escalation.id, escalation.kind, escalation.priority))
    refs.sort(key=lambda r: -priority_rank(r.priority))
    return refs


def _create(session: Session, *, flag: Flag, raising: _Raising) -> Escalation:
    patient, policy, now = raising.patient, raising.policy, raising.now
    escalation = Escalation(
        clinic_id=patient.clinic_id,
        patient_id=patient.user_id,
        kind=flag.kind,
        priority=flag.priority,
        status=Status.OPEN,
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
        raising=raising,
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
        flow.start_chain(session, escalation=escalation, patient=patient, policy=policy, now=now)
    else:
        add_event(session, escalation, "inbox_only", now=now)
    return escalation


def _merge(
    session: Session, *, escalation: Escalation, flag: Flag, raising: _Raising
) -> Escalation:
    patient, policy, now = raising.patient, raising.policy, raising.now
    raised = priority_rank(flag.priority) > priority_rank(escalation.priority)
    _add_evidence(
        session,
        escalation,
        flag,
        event="evidence_added",
        raising=raising,
        raises_priority=raised,
    )
    escalation.updated_at = now
    if not raised:
        if flag.priority == Priority.URGENT and escalation.status == Status.ACKNOWLEDGED:
            # The acknowledgement covered the evidence seen then, not this. The escalation
            # needs acknowledging again (status open); its acknowledger is paged at once,
            # and the chain starts again if nobody acknowledges within the urgent time-out.
            acknowledger = _acknowledger(session, escalation)
            _reopen(session, escalation, now=now)
            flow.page_previous_acknowledger(
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
            flow.start_chain(
                session, escalation=escalation, patient=patient, policy=policy, now=now
            )
        return escalation
    previous = escalation.priority
    escalation.priority = flag.priority
    add_event(
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
        flow.start_chain(session, escalation=escalation, patient=patient, policy=policy, now=now)
        if acknowledger is not None and paging.can_be_texted(acknowledger):
            # Whoever took the lesser flag hears of the graver one at once, whatever tier.
            flow.page_into_current_tier(
                session, escalation=escalation, clinician=acknowledger, now=now
            )
    return escalation


def _acknowledger(session: Session, escalation: Escalation) -> User | None:
    """The clinician who acknowledged, while still an active clinician of the clinic."""
    if escalation.status != Status.ACKNOWLEDGED or escalation.acknowledged_by is None:
        return None
    return active_clinician(session, escalation.acknowledged_by, clinic_id=escalation.clinic_id)


def _reopen(session: Session, escalation: Escalation, *, now: datetime) -> None:
    """Clear an acknowledgement so the escalation pages and counts as open again."""
    if escalation.status != Status.ACKNOWLEDGED:
        return
    escalation.status = Status.OPEN
    add_event(
        session,
        escalation,
        "reopened",
        now=now,
        previous_acknowledged_by=escalation.acknowledged_by,
    )
    escalation.acknowledged_at = None
    escalation.acknowledged_by = None
