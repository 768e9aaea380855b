"""Twilio's delivery reports: stored on the outbox row, undelivered ones told to listeners.

The outbox's own give-up reports failures through its failure listeners; a message that
was sent but never reached the phone is reported the same way, to the same kind of
listener (the escalation timer moves a page's chain on at once).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifications.outbox import FailureListener
from notifications.paging import UNDELIVERED
from store.models import OutboxMessage, SmsAttempt

# Twilio delivery statuses after which nothing further happens to a message.
FINAL_DELIVERY_STATUSES = ("delivered", "undelivered", "failed", "read", "canceled")


def record_delivery_status(
    session: Session,
    *,
    message_sid: str,
    status: str,
    error_code: int | None,
    now: datetime,
    listeners: Iterable[FailureListener] = (),
) -> bool:
    """Store one Twilio status callback; False when no message has that SID.

    A first report that the message was not delivered is passed to each of ``listeners``
    in this transaction.
    """
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
    if status in UNDELIVERED and previous not in FINAL_DELIVERY_STATUSES:
        session.flush()
        for listener in listeners:
            listener(session, message, now)
    return True
