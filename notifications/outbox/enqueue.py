"""Queueing messages: outbox rows written in the caller's transaction.

A message is a row written in the same transaction as the change that causes it, so it
exists exactly when that change does; a commit that queued any wakes the dispatchers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from notifications.outbox.status import PENDING, Channel
from notifications.outbox.wake import NOTIFY_CHANNEL, wake_dispatchers
from store import after_commit
from store.dialects import insert_or_skip, is_postgresql
from store.models import OutboxMessage


@dataclass(frozen=True, slots=True)
class NewSms:
    """One SMS to queue."""

    to: str
    body: str
    purpose: str
    recipient_id: int | None = None
    escalation_id: int | None = None
    escalation_tier: int | None = None
    # Unique per purpose and subject: a second queueing of the same key is skipped.
    dedupe_key: str | None = None
    priority: int = 0
    not_before: datetime | None = None
    channel: str = Channel.SMS
    target: str | None = None


def enqueue_many(session: Session, messages: Sequence[NewSms], *, now: datetime) -> list[int]:
    """Queue SMS in the caller's transaction; returns the ids of those not queued before.

    One multi-row INSERT and one NOTIFY for the whole batch, however large.
    """
    if not messages:
        return []
    statement = (
        insert_or_skip(session, OutboxMessage)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.id)
    )
    rows = [
        {
            "purpose": sms.purpose,
            "to_number": sms.to,
            "body": sms.body,
            "recipient_id": sms.recipient_id,
            "escalation_id": sms.escalation_id,
            "escalation_tier": sms.escalation_tier,
            "dedupe_key": sms.dedupe_key,
            "priority": sms.priority,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": sms.not_before or now,
            "claimed_until": None,
            "created_at": now,
            "updated_at": now,
            "channel": sms.channel,
            "target": sms.target,
        }
        for sms in messages
    ]
    # Core, not the ORM: SQLAlchemy batches the rows into multi-row INSERTs ... RETURNING.
    ids = [row.id for row in session.connection().execute(statement, rows)]
    if ids:
        if is_postgresql(session):
            session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})
        after_commit(session, wake_dispatchers)
    return ids


def enqueue_sms(
    session: Session,
    *,
    to: str,
    body: str,
    purpose: str,
    now: datetime,
    recipient_id: int | None = None,
    escalation_id: int | None = None,
    dedupe_key: str | None = None,
    priority: int = 0,
    not_before: datetime | None = None,
    escalation_tier: int | None = None,
) -> int | None:
    """Queue one SMS in the caller's transaction; None when ``dedupe_key`` was queued before."""
    ids = enqueue_many(
        session,
        [
            NewSms(
                to=to,
                body=body,
                purpose=purpose,
                recipient_id=recipient_id,
                escalation_id=escalation_id,
                escalation_tier=escalation_tier,
                dedupe_key=dedupe_key,
                priority=priority,
                not_before=not_before,
            )
        ],
        now=now,
    )
    return ids[0] if ids else None
