"""Pre-send checks: what was true when a message was queued may not be when it is sent.

A check is asked, in a transaction just before a message of its purpose goes out, whether
to send it, defer it (quiet hours began) or cancel it (the task was done, the number opted
out). Pages are never held back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from notifications.outbox.claim import Claimed
from notifications.outbox.status import CANCELLED, PENDING, SENDING
from store.models import OutboxMessage, SmsAttempt

log = logging.getLogger("tandem.outbox")

# Purposes no pre-send check may hold back: a page goes out whatever the hour.
NEVER_HELD = frozenset({"page", "page_assign"})


@dataclass(frozen=True, slots=True)
class Hold:
    """A pre-send check's verdict on a message about to go out: later, or never.

    ``until`` set: put it back, due then (e.g. the end of the patient's quiet hours).
    ``until`` None: cancel it, keeping ``reason`` (e.g. the task was done meanwhile).
    """

    reason: str
    until: datetime | None = None
    # A deferred message's text for its new time, when the old one would be untrue then.
    body: str | None = None


# Asked in a transaction just before a message of its purpose is sent; None sends it.
PreSendCheck = Callable[[Session, OutboxMessage, datetime], Hold | None]


def _verdict(
    session: Session,
    item: Claimed,
    message: OutboxMessage,
    checks: list[PreSendCheck],
    now: datetime,
) -> Hold | None:
    """The first check's hold, or None when every check lets the message go."""
    verdict = None
    for check in checks:
        try:
            with session.begin_nested():
                verdict = check(session, message, now)
        except Exception:
            # A broken check must not lose the message: it is sent as queued.
            log.exception("pre-send check for sms %s failed; sending as queued", item.id)
            verdict = None
        if verdict is not None:
            break
    return verdict


def _apply(
    session: Session, item: Claimed, message: OutboxMessage, verdict: Hold, now: datetime
) -> None:
    """Cancel or defer ``message`` as ``verdict`` says, and log the attempt held."""
    message.claimed_until = None
    message.updated_at = now
    if verdict.until is None:
        message.status = CANCELLED
        message.last_error = verdict.reason
        detail = verdict.reason
    else:
        message.status = PENDING
        message.next_attempt_at = verdict.until
        if verdict.body is not None:
            message.body = verdict.body
        detail = f"{verdict.reason} until {verdict.until.isoformat()}"
    session.add(
        SmsAttempt(
            message_id=item.id,
            at=now,
            event="held",
            outcome="cancelled" if verdict.until is None else "deferred",
            detail=detail,
        )
    )


def hold_back(
    session: Session, item: Claimed, checks: dict[str, list[PreSendCheck]], now: datetime
) -> bool:
    """Run the purpose's pre-send checks; True when the message was deferred or cancelled."""
    message = session.get(OutboxMessage, item.id)
    if message is None or message.attempts != item.attempt or message.status != SENDING:
        return False  # a newer attempt owns the row; the send path's guard handles it
    verdict = _verdict(session, item, message, checks.get(message.purpose, []), now)
    if verdict is None:
        return False
    _apply(session, item, message, verdict, now)
    return True
