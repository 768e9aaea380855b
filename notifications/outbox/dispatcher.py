"""The dispatcher: claims due rows, sends them outside any transaction, records the result.

A crash between send and record leaves the row claimed until its lease ends, after which
it is sent again (at most one duplicate, never a loss). While a send is in flight a
background thread renews its lease (see :mod:`notifications.outbox.claim`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select, update

from notifications.metrics import PAGE_LATENCY, SMS_SENT
from notifications.outbox.checks import NEVER_HELD, PreSendCheck, hold_back
from notifications.outbox.claim import (
    BATCH_SIZE,
    LEASE,
    MAX_HOLD,
    Claimed,
    claim_due,
    release_claims,
    renew_leases,
)
from notifications.outbox.retry import FailureListener, record_failure
from notifications.outbox.status import PENDING, SENDING, SENT, Channel
from notifications.outbox.wake import wake_dispatchers, workers_running
from notifications.sms import SendResult, SmsError, SmsSender
from store import Database
from store.clock import Clock
from store.models import OutboxMessage, SmsAttempt

log = logging.getLogger("tandem.outbox")


class _NoChannel:
    """Stands in for a channel this process has no sender for: fails the row for good."""

    def __init__(self, channel: str) -> None:
        self.channel = channel

    def send(self, *, to: str, body: str, status_callback: str | None = None) -> SendResult:
        raise SmsError(f"no sender configured for channel {self.channel!r}", retryable=False)


@dataclass
class DispatchStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    # Deferred or cancelled by a pre-send check instead of being sent.
    held: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + self.held

    def count(self, outcome: str) -> None:
        """Add one send's outcome ("sent", "retry", "held" or "failed")."""
        if outcome == "sent":
            self.sent += 1
        elif outcome == "retry":
            self.retried += 1
        elif outcome == "held":
            self.held += 1
        else:
            self.failed += 1

    def add(self, other: DispatchStats) -> None:
        """Add another batch's counts to these."""
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.held += other.held


@dataclass
class Dispatcher:
    """Sends due outbox rows through an :class:`SmsSender` and records every attempt."""

    database: Database
    sender: SmsSender
    clock: Clock
    status_callback_url: str | None = None
    batch_size: int = BATCH_SIZE
    # Called in the recording transaction when a message fails for good (issue: paging).
    failure_listeners: list[FailureListener] = field(default_factory=list)
    # Per purpose: what was true when a message was queued may not be when it is sent
    # (quiet hours began, the task was done, the number opted out). Pages have none.
    pre_send_checks: dict[str, list[PreSendCheck]] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)
    # Senders for the other channels ("voice", "pager"); "sms" always uses ``sender``.
    channels: dict[str, SmsSender] = field(default_factory=dict)

    def _sender_for(self, channel: str) -> SmsSender:
        if channel == Channel.SMS:
            return self.sender
        return self.channels.get(channel) or _NoChannel(channel)

    def add_pre_send_check(self, purpose: str, check: PreSendCheck) -> None:
        """Consult ``check`` before each send of a ``purpose`` message (never for pages)."""
        if purpose in NEVER_HELD:
            raise ValueError(f"{purpose!r} messages are never held back")
        self.pre_send_checks.setdefault(purpose, []).append(check)

    lease: timedelta = LEASE
    max_hold: timedelta = MAX_HOLD
    # (id, attempt) -> monotonic start of each send in flight in this process.
    _in_flight: dict[tuple[int, int], float] = field(default_factory=dict, init=False)
    _in_flight_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _renewer: threading.Thread | None = field(default=None, init=False)
    # Set on shutdown: the send in flight finishes, the rest of the batch is released.
    stopping: threading.Event = field(default_factory=threading.Event, init=False)

    def _hold(self, item: Claimed) -> None:
        """Keep ``item``'s lease renewed while it is being sent (see :meth:`_renew_loop`)."""
        with self._in_flight_lock:
            self._in_flight[(item.id, item.attempt)] = time.monotonic()
            if self._renewer is None or not self._renewer.is_alive():
                self._renewer = threading.Thread(
                    target=self._renew_loop, name="outbox-lease-renewer", daemon=True
                )
                self._renewer.start()

    def _unhold(self, item: Claimed) -> None:
        with self._in_flight_lock:
            self._in_flight.pop((item.id, item.attempt), None)

    def _renew_loop(self) -> None:
        """Extend the leases of this process's sends in flight; ends when none are left."""
        interval = self.lease.total_seconds() / 4
        while True:
            time.sleep(interval)
            limit = time.monotonic() - self.max_hold.total_seconds()
            with self._in_flight_lock:
                held = [key for key, start in self._in_flight.items() if start > limit]
                if not self._in_flight:
                    self._renewer = None
                    return
            if held:
                try:
                    self._renew(held)
                except Exception:
                    log.warning("could not renew outbox leases; they may be re-sent")

    def _renew(self, held: list[tuple[int, int]]) -> None:
        now = self.clock.now()
        with self.database.unit_of_work() as session:
            renew_leases(session, held, until=now + self.lease)

    def claim(self, *, limit: int | None = None) -> list[Claimed]:
        """Claim due rows, each under a lease, so no other dispatcher sends them meanwhile."""
        now = self.clock.now()
        with self.database.unit_of_work() as session:
            return claim_due(session, now=now, lease=self.lease, limit=limit or self.batch_size)

    def send_one(self, item: Claimed) -> str:
        """Send one claimed message and record the outcome: "sent", "retry", "failed" or "held"."""
        checked = item.purpose in self.pre_send_checks and item.purpose not in NEVER_HELD
        if checked and self._held(item):
            return "held"
        try:
            result = self._sender_for(item.channel).send(
                to=item.to,
                body=item.body,
                # Calls and pager events carry their own callbacks (or none).
                status_callback=self.status_callback_url if item.channel == Channel.SMS else None,
            )
        except SmsError as error:
            return self._record_failure(item, error)
        self._record_sent(item, result)
        return "sent"

    def _record_sent(self, item: Claimed, result: SendResult) -> None:
        now = self.clock.now()
        with self.database.unit_of_work() as session:
            session.execute(
                update(OutboxMessage)
                # Only while this attempt still holds the claim: a sender whose lease ran
                # out must not overwrite what the newer attempt recorded.
                .where(OutboxMessage.id == item.id, OutboxMessage.attempts == item.attempt)
                .values(
                    status=SENT,
                    twilio_sid=result.sid,
                    delivery_status=result.status,
                    sent_at=now,
                    claimed_until=None,
                    last_error=None,
                    error_code=None,
                    updated_at=now,
                )
            )
            session.add(
                SmsAttempt(
                    message_id=item.id,
                    at=now,
                    event="send",
                    outcome="sent",
                    twilio_sid=result.sid,
                )
            )

    def _held(self, item: Claimed) -> bool:
        """Run the purpose's pre-send checks; True when the message was deferred or cancelled."""
        now = self.clock.now()
        with self.database.unit_of_work() as session:
            return hold_back(session, item, self.pre_send_checks, now)

    def _record_failure(self, item: Claimed, error: SmsError) -> str:
        now = self.clock.now()
        with self.database.unit_of_work() as session:
            return record_failure(
                session, item, error, now=now, rng=self.rng, listeners=self.failure_listeners
            )

    def run_once(self, *, limit: int | None = None) -> DispatchStats:
        """Claim one batch and send it."""
        stats = DispatchStats()
        claimed = [] if self.stopping.is_set() else self.claim(limit=limit)
        for position, item in enumerate(claimed):
            if self.stopping.is_set():
                self.release(claimed[position:])
                break
            self._hold(item)
            try:
                outcome = self.send_one(item)
            finally:
                self._unhold(item)
            self._observe(item, outcome)
            stats.count(outcome)
        return stats

    def release(self, items: Sequence[Claimed]) -> int:
        """Give back claims not sent (shutdown): due again at once, the attempt not counted.

        Only while the claim is still ours (same attempt, still sending), so a row another
        dispatcher re-claimed after our lease ran out is left alone.
        """
        if not items:
            return 0
        now = self.clock.now()
        with self.database.unit_of_work() as session:
            released = release_claims(session, items, now=now)
        log.info("outbox: released %s claimed message(s) unsent on shutdown", released)
        return released

    def _observe(self, item: Claimed, outcome: str) -> None:
        SMS_SENT.labels(result=outcome).inc()
        if outcome == "sent" and item.purpose == "page" and item.created_at is not None:
            PAGE_LATENCY.observe(max(0.0, (self.clock.now() - item.created_at).total_seconds()))

    def sweep(self) -> DispatchStats | None:
        """The scheduler's safety net: wake this process's dispatcher threads, or drain here."""
        if workers_running():
            # Draining beside a running worker would race it for the same rows.
            wake_dispatchers()
            return None
        return self.drain()

    def drain(self, *, max_batches: int = 100, limit: int | None = None) -> DispatchStats:
        """Send until nothing is due (bounded); ``limit`` caps each claimed batch."""
        total = DispatchStats()
        for _ in range(max_batches):
            if self.stopping.is_set():
                break
            stats = self.run_once(limit=limit)
            total.add(stats)
            if stats.handled == 0:
                break
        return total

    def pending_ids(self) -> Iterable[int]:
        """Ids of rows not yet sent or failed (for health checks and tests)."""
        with self.database.unit_of_work() as session:
            return list(
                session.scalars(
                    select(OutboxMessage.id).where(OutboxMessage.status.in_([PENDING, SENDING]))
                )
            )
