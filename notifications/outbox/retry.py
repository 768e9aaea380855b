"""The retry policy: a failed send is due again after a jittered back-off, or fails for good.

It fails for good when the error is not retryable or after :data:`MAX_ATTEMPTS`; then the
failure listeners (paging moves the chain on) are told in the recording transaction.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from notifications.outbox.claim import Claimed
from notifications.outbox.status import FAILED, PENDING, SENDING
from notifications.sms import SmsError
from store.models import OutboxMessage, SmsAttempt

log = logging.getLogger("tandem.outbox")

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0
MAX_ATTEMPTS = 16

FailureListener = Callable[[Session, OutboxMessage, datetime], None]


def backoff_seconds(attempt: int, *, rng: random.Random | None = None) -> float:
    """Exponential back-off with jitter: half to all of base·2^(attempt-1), capped."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)


def _attempt(item: Claimed, error: SmsError, *, now: datetime, outcome: str) -> SmsAttempt:
    """The log line of a send that raised ``error``."""
    return SmsAttempt(
        message_id=item.id,
        at=now,
        event="send",
        outcome=outcome,
        error_code=error.code,
        detail=str(error)[:1000],
    )


def _fail_or_reschedule(
    message: OutboxMessage,
    item: Claimed,
    error: SmsError,
    *,
    now: datetime,
    give_up: bool,
    rng: random.Random,
) -> None:
    """Record the error on the row; fail it for good, or make it due after the back-off."""
    message.claimed_until = None
    message.error_code = error.code
    message.last_error = str(error)[:1000]
    message.updated_at = now
    if give_up:
        message.status = FAILED
    else:
        delay = backoff_seconds(item.attempt, rng=rng)
        if error.retry_after is not None:
            delay = max(delay, error.retry_after)
        message.status = PENDING
        message.next_attempt_at = now + timedelta(seconds=delay)


def _tell_listeners(
    session: Session,
    item: Claimed,
    message: OutboxMessage,
    listeners: list[FailureListener],
    now: datetime,
) -> None:
    """Tell each failure listener, each in its own savepoint."""
    for listener in listeners:
        try:
            # The failure is recorded whatever a listener does; the escalation
            # timer still moves the chain on if this one could not.
            with session.begin_nested():
                listener(session, message, now)
        except Exception:
            log.exception("failure listener for sms %s failed", item.id)


def record_failure(
    session: Session,
    item: Claimed,
    error: SmsError,
    *,
    now: datetime,
    rng: random.Random,
    listeners: list[FailureListener],
) -> str:
    """Record a failed send of ``item``: "retry" (due again later, or stale) or "failed"."""
    give_up = not error.retryable or item.attempt >= MAX_ATTEMPTS
    message = session.get(OutboxMessage, item.id)
    assert message is not None
    if message.attempts != item.attempt or message.status != SENDING:
        # A newer attempt owns the row now; keep the log, leave its state alone.
        session.add(_attempt(item, error, now=now, outcome="stale"))
        return "retry"
    _fail_or_reschedule(message, item, error, now=now, give_up=give_up, rng=rng)
    session.add(_attempt(item, error, now=now, outcome="failed" if give_up else "retry"))
    if give_up:
        log.warning(
            "sms %s failed for good after %s attempt(s): code=%s",
            item.id,
            item.attempt,
            error.code,
        )
        _tell_listeners(session, item, message, listeners, now)
    return "failed" if give_up else "retry"
