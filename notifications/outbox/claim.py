"""Claiming due rows under a lease, renewing the lease in flight, releasing it unsent.

The lease is short (:data:`LEASE`, 20 s) so a page a dead process had claimed is
re-claimable within 30 s; a live sender renews the lease of what it has in flight
every :data:`LEASE` / 4, up to :data:`MAX_HOLD`, so a slow send is not sent twice.
Rows for the demo clinic are never claimed for sending: they are cancelled here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from notifications.outbox.status import CANCELLED, PENDING, SENDING, Channel
from store.dialects import for_update
from store.escalations import Escalation
from store.models import Clinic, OutboxMessage, SmsAttempt, User

log = logging.getLogger("tandem.outbox")

LEASE = timedelta(seconds=20)
# Renewal stops after this long in flight: a send stuck for good cannot hold a page.
# (Twilio requests time out after TWILIO_TIMEOUT_SECONDS, 10 s by default.)
MAX_HOLD = timedelta(seconds=60)
BATCH_SIZE = 50

DEMO_SUPPRESSED = "demo clinic: never sent (its numbers are fictional)"


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    to: str
    body: str
    attempt: int
    channel: str = Channel.SMS
    # For the send-time checks and the page-latency histogram: what the message is and when
    # it was queued.
    purpose: str = ""
    created_at: datetime | None = None


def _pager_events_in_order() -> ColumnElement[bool]:
    """A pager event waits while an earlier one of its escalation is unsent.

    So a retried trigger is never overtaken by its resolve (which the pager would drop,
    leaving the incident open); an earlier event that failed for good blocks nothing.
    """
    earlier = aliased(OutboxMessage)
    blocked = exists().where(
        earlier.channel == Channel.PAGER,
        earlier.escalation_id == OutboxMessage.escalation_id,
        earlier.id < OutboxMessage.id,
        earlier.status.in_([PENDING, SENDING]),
    )
    return or_(OutboxMessage.channel != Channel.PAGER, ~blocked)


def _due(now: datetime, limit: int) -> Select[OutboxMessage]:
    """Pending rows now due and rows whose lease ran out, most urgent first."""
    return (
        select(OutboxMessage)
        .where(
            or_(
                (OutboxMessage.status == PENDING) & (OutboxMessage.next_attempt_at <= now),
                (OutboxMessage.status == SENDING) & (OutboxMessage.claimed_until < now),
            ),
            _pager_events_in_order(),
        )
        .order_by(
            OutboxMessage.priority.desc(),
            OutboxMessage.next_attempt_at,
            OutboxMessage.id,
        )
        .limit(limit)
    )


def _demo_rows(session: Session, ids: list[int]) -> set[int]:
    """Which of these rows are for `tandem demo`'s clinic: its recipient's or escalation's."""
    demo_users = select(User.id).join(Clinic, User.clinic_id == Clinic.id).where(Clinic.demo)
    demo_escalations = (
        select(Escalation.id).join(Clinic, Escalation.clinic_id == Clinic.id).where(Clinic.demo)
    )
    return set(
        session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.id.in_(ids),
                or_(
                    OutboxMessage.recipient_id.in_(demo_users),
                    OutboxMessage.escalation_id.in_(demo_escalations),
                ),
            )
        )
    )


def _suppress(session: Session, row: OutboxMessage, *, now: datetime) -> None:
    """Record a demo row as cancelled, never sent, with a line in the log saying so.

    The demo must not text anyone, whatever the SMS backend: its activation texts, pages,
    reminders and calls are kept (the inbox shows them) but never reach a sender.
    """
    row.status = CANCELLED
    row.claimed_until = None
    row.last_error = DEMO_SUPPRESSED
    row.updated_at = now
    session.add(
        SmsAttempt(
            message_id=row.id, at=now, event="held", outcome="cancelled", detail=DEMO_SUPPRESSED
        )
    )
    log.info("outbox %s (%s %s) not sent: %s", row.id, row.channel, row.purpose, DEMO_SUPPRESSED)


def _lease(row: OutboxMessage, *, now: datetime, lease: timedelta) -> Claimed:
    """Mark ``row`` as being sent by this attempt, until the lease runs out."""
    row.status = SENDING
    row.attempts += 1
    row.claimed_until = now + lease
    row.updated_at = now
    return Claimed(
        row.id,
        row.target or row.to_number,
        row.body,
        row.attempts,
        channel=row.channel,
        purpose=row.purpose,
        created_at=row.created_at,
    )


def claim_due(session: Session, *, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
    """Claim up to ``limit`` due rows, each under a lease; rows other senders hold are skipped."""
    query = for_update(_due(now, limit), session, skip_locked=True)
    rows = session.scalars(query).all()
    suppressed = _demo_rows(session, [row.id for row in rows]) if rows else set()
    claimed = []
    for row in rows:
        if row.id in suppressed:
            _suppress(session, row, now=now)
            continue
        claimed.append(_lease(row, now=now, lease=lease))
    return claimed


def _still_ours(message_id: int, attempt: int) -> tuple[ColumnElement[bool], ...]:
    """The row is still claimed by this attempt: no newer attempt re-claimed it meanwhile."""
    return (
        OutboxMessage.id == message_id,
        OutboxMessage.attempts == attempt,
        OutboxMessage.status == SENDING,
    )


def renew_leases(session: Session, held: list[tuple[int, int]], *, until: datetime) -> None:
    """Extend the leases of these (id, attempt) claims to ``until`` while they are still ours."""
    for message_id, attempt in held:
        session.execute(
            update(OutboxMessage)
            .where(*_still_ours(message_id, attempt))
            .values(claimed_until=until)
        )


def release_claims(session: Session, items: Sequence[Claimed], *, now: datetime) -> int:
    """Put claims not sent back as due at once, the attempt not counted; returns how many.

    Only while the claim is still ours (same attempt, still sending), so a row another
    dispatcher re-claimed after our lease ran out is left alone.
    """
    released = 0
    for item in items:
        result = session.execute(
            update(OutboxMessage)
            .where(*_still_ours(item.id, item.attempt))
            .values(
                status=PENDING,
                attempts=OutboxMessage.attempts - 1,
                claimed_until=None,
                updated_at=now,
            )
        )
        released += int(getattr(result, "rowcount", 0) or 0)
    return released
