"""The SMS port: what the rest of Tandem needs from an SMS gateway, with no vendor imports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

__all__ = [
    "PERMANENT_CODES",
    "RETRYABLE_CODES",
    "SendResult",
    "SmsError",
    "SmsSender",
    "is_retryable_response",
]


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the gateway said about an accepted message: its id and first status."""

    sid: str
    status: str


class SmsError(Exception):
    """A send that did not go through; `retryable` tells the outbox whether to try again."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        code: int | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code
        self.http_status = http_status
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"SmsError({self.message!r}, retryable={self.retryable}, code={self.code}, "
            f"http_status={self.http_status}, retry_after={self.retry_after})"
        )


class SmsSender(Protocol):
    """Anything that can send one SMS now or raise SmsError."""

    def send(self, *, to: str, body: str, status_callback: str | None = None) -> SendResult:
        """Send `body` to `to`; Twilio will post delivery updates to `status_callback`."""
        ...


# Twilio error codes that no amount of waiting will fix; the outbox pages the next tier instead.
# Only codes Twilio returns when the message is *created* belong here: the 30xxx family
# (30003 unreachable, 30006 landline, 30007 filtered...) describes delivery, arrives later
# through the status callback, and never surfaces as an error from send().
PERMANENT_CODES: Mapping[int, str] = MappingProxyType(
    {
        20003: "authentication failed (wrong Account SID or Auth Token)",
        20404: "resource not found (e.g. unknown account or messaging service)",
        21211: "invalid 'To' phone number",
        21408: "sending to the region of the 'To' number is not enabled",
        21602: "message body is required",
        21604: "'To' phone number is required",
        21606: "'From' number cannot send messages to this destination",
        21610: "recipient has unsubscribed (replied STOP)",
        21612: "'To' number cannot be reached from the 'From' number",
        21614: "'To' number is not a mobile number",
        21617: "message body exceeds the 1600 character limit",
    }
)

# Twilio error codes that mean "not now": rate limiting and trouble on Twilio's side.
RETRYABLE_CODES: Mapping[int, str] = MappingProxyType(
    {
        20429: "too many requests",
        20500: "internal server error",
        20503: "service unavailable",
    }
)


def is_retryable_response(*, http_status: int, code: int | None) -> bool:
    """Classify an HTTP error from the gateway: 429 and 5xx retry, other 4xx are permanent."""
    # A known Twilio code is more specific than the HTTP status, so it decides first.
    if code in RETRYABLE_CODES:
        return True
    if code in PERMANENT_CODES:
        return False
    return http_status == 429 or http_status >= 500
