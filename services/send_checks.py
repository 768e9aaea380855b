"""Send-time checks for queued messages that can go stale (besides reminders, in schedule).

Registered on the outbox dispatcher in `services/runtime.py` (`Dispatcher.add_pre_send_check`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifications.outbox import Hold
from store.models import ActivationCode, OutboxMessage


def activation_pre_send(session: Session, message: OutboxMessage, now: datetime) -> Hold | None:
    """An activation code that no longer works (used, superseded, expired) is not sent.

    Its code row was written in the same transaction as the message, so it has the same
    creation time; a message without one (nothing to compare) is sent as queued.
    """
    if message.recipient_id is None:
        return None
    codes = session.scalars(
        select(ActivationCode).where(
            ActivationCode.user_id == message.recipient_id,
            ActivationCode.created_at == message.created_at,
        )
    ).all()
    if not codes or any(c.used_at is None and c.expires_at > now for c in codes):
        return None  # (two codes issued in one instant cannot be told apart: send)
    if any(c.used_at is not None for c in codes):
        return Hold("code_used_or_superseded")
    return Hold("code_expired")
