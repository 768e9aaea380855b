"""The log SMS gateway, the embedded default: messages go to the log, not to phones."""

from __future__ import annotations

import logging
import uuid
from collections import deque

from notifications.sms import SendResult

__all__ = ["LogSmsSender", "mask_phone_number"]

log = logging.getLogger("tandem.sms")

# Enough for a demo or a test to look back at, small enough to never matter in a long run.
_KEEP_SENT = 1000


def mask_phone_number(number: str) -> str:
    """Hide the middle of a phone number for logs: "+155501230123" -> "+1555****0123"."""
    number = number.strip()
    if len(number) <= 4:
        return "****"
    tail = number[-4:]
    # Show at most five leading characters, and never fewer than four hidden ones.
    head = number[: min(5, max(0, len(number) - 8))]
    return f"{head}****{tail}"


class LogSmsSender:
    """Logs each message to "tandem.sms" and remembers the latest ones in `sent`."""

    def __init__(self) -> None:
        self.sent: deque[tuple[str, str]] = deque(maxlen=_KEEP_SENT)

    def send(self, *, to: str, body: str, status_callback: str | None = None) -> SendResult:
        """Log the message and report it as sent under a made-up SID."""
        sid = "LOG" + uuid.uuid4().hex
        self.sent.append((to, body))
        log.info(
            "SMS %s to %s (%d chars, status callback %s): %s",
            sid,
            mask_phone_number(to),
            len(body),
            "set" if status_callback else "none",
            body,
        )
        return SendResult(sid=sid, status="sent")
