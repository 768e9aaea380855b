"""The log voice channel: the embedded default when Twilio is not configured."""

from __future__ import annotations

import logging
import uuid
from collections import deque

from notifications.log_sms import mask_phone_number
from notifications.sms import SendResult

log = logging.getLogger("tandem.voice")


class LogVoiceSender:
    """Logs each call it would place (masked number, no words) and remembers it in ``calls``."""

    def __init__(self) -> None:
        self.calls: deque[str] = deque(maxlen=1000)

    def send(self, *, to: str, body: str, status_callback: str | None = None) -> SendResult:
        """Pretend to place the call."""
        sid = "LOGCA" + uuid.uuid4().hex
        self.calls.append(to)
        log.info("voice call %s to %s", sid, mask_phone_number(to))
        return SendResult(sid=sid, status="queued")
