"""An outbox row's states and channels."""

from __future__ import annotations

from enum import StrEnum


class OutboxStatus(StrEnum):
    """Where an outbox row is: pending, sending (leased), then sent, failed or cancelled."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    # Never sent on purpose: a pre-send check found it stale (the reason is in last_error).
    CANCELLED = "cancelled"


class Channel(StrEnum):
    """How an outbox row leaves: an SMS, a voice call to ``to``, or a pager event to ``target``."""

    SMS = "sms"
    VOICE = "voice"
    PAGER = "pager"


PENDING = OutboxStatus.PENDING
SENDING = OutboxStatus.SENDING
SENT = OutboxStatus.SENT
FAILED = OutboxStatus.FAILED
CANCELLED = OutboxStatus.CANCELLED
