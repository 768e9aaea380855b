"""The timer: move open escalations whose tier timed out, or whose last page failed, on.

The scheduler job (``schedules.escalations``) owns the unit of work and the batching; these
take the job's session and its ``now``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from notifications import paging
from services.escalations import flow
from services.escalations.state import add_event, locked
from store.dialects import for_update
from store.escalations import Escalation, Status
from store.models import OutboxMessage

log = logging.getLogger("tandem.escalations")

# Escalations a timer pass handles per transaction; the job loops over batches.
ADVANCE_BATCH = 100


def _due_query(session: Session, now: datetime) -> Select[Any]:
    query = (
        select(Escalation)
        .where(
            Escalation.status == Status.OPEN,
            Escalation.next_page_at.is_not(None),
            Escalation.next_page_at <= now,
        )
        .order_by(Escalation.next_page_at, Escalation.id)
        .limit(ADVANCE_BATCH)
    )
    # Several scheduler processes may run; each takes different escalations.
    return for_update(query, session, skip_locked=True, of=Escalation)


def advance_due(session: Session, *, now: datetime) -> int:
    """Page the next tier of every open escalation whose tier timed out (one batch)."""
    escalations = session.scalars(_due_query(session, now)).all()
    for escalation in escalations:
        try:
            # One escalation that cannot be advanced must not hold up every other one.
            with session.begin_nested():
                flow.advance(session, escalation=escalation, now=now, reason="ack_timeout")
        except Exception:
            # Not swallowed: logged with its id, and the escalation stays due for the next run.
            log.exception("escalation %s could not be advanced; retried next run", escalation.id)
    return len(escalations)


def page_undeliverable(session: Session, message: OutboxMessage, now: datetime) -> None:
    """A page failed for good or was reported undelivered: move on at once if it was the last hope.

    Registered as the dispatcher's failure listener and called by the status callback.
    """
    if message.purpose != paging.PAGE_PURPOSE or message.escalation_id is None:
        return
    escalation = locked(session, Escalation.id == message.escalation_id)
    if escalation is None:
        return
    add_event(
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
    if escalation.status != Status.OPEN or not paging.is_current_page(escalation, message):
        return
    if flow.current_tier_alive(session, escalation=escalation):
        return  # someone else in this tier may still see the page before the time-out
    flow.advance(session, escalation=escalation, now=now, reason="page_undeliverable")
