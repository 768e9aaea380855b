"""The durable SMS outbox and its dispatcher.

A message is a row written in the same transaction as the change that causes it,
so it exists exactly when that change does. The dispatcher claims due rows,
sends them outside any transaction, and records the result; a crash between
send and record leaves the row claimed until its lease ends, after which it is
sent again (at most one duplicate, never a loss).

The lease is short (:data:`LEASE`, 20 s) so a page a dead process had claimed is
re-claimable within 30 s; a live sender renews the lease of what it has in flight
every :data:`LEASE` / 4, up to :data:`MAX_HOLD`, so a slow send is not sent twice.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, exists, or_, select, text, update
from sqlalchemy.orm import Session, aliased

from notifications.metrics import PAGE_LATENCY, SMS_SENT
from notifications.sms import SendResult, SmsError, SmsSender
from store import Database, after_commit
from store.clock import Clock
from store.dialects import for_update, insert_or_skip, is_postgresql
from store.escalations import Escalation
from store.models import Clinic, OutboxMessage, SmsAttempt, User

log = logging.getLogger("tandem.outbox")

NOTIFY_CHANNEL = "tandem_outbox"
LEASE = timedelta(seconds=20)
# Renewal stops after this long in flight: a send stuck for good cannot hold a page.
# (Twilio requests time out after TWILIO_TIMEOUT_SECONDS, 10 s by default.)
MAX_HOLD = timedelta(seconds=60)
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0
MAX_ATTEMPTS = 16
BATCH_SIZE = 50
DEFAULT_CONCURRENCY = 4


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
# Purposes no pre-send check may hold back: a page goes out whatever the hour.
NEVER_HELD = frozenset({"page", "page_assign"})

# Processes register an event here; a commit that queued SMS sets them all.
_wakers: set[threading.Event] = set()
_wakers_lock = threading.Lock()


def register_waker(event: threading.Event) -> None:
    with _wakers_lock:
        _wakers.add(event)


def unregister_waker(event: threading.Event) -> None:
    with _wakers_lock:
        _wakers.discard(event)


def wake_dispatchers() -> None:
    """Wake this process's dispatchers at once (the in-process nudge)."""
    with _wakers_lock:
        events = list(_wakers)
    for event in events:
        event.set()


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


def backoff_seconds(attempt: int, *, rng: random.Random | None = None) -> float:
    """Exponential back-off with jitter: half to all of base·2^(attempt-1), capped."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    to: str
    body: str
    attempt: int
    channel: str = Channel.SMS
    # For the send-time checks and the page-latency histogram: what the message is and when
    # it was queued.
    purpose: str = ""
    created_at: datetime | None = None


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


def _pager_events_in_order() -> ColumnElement[bool]:
    """A pager event waits while an earlier one of its escalation is unsent.

    So a retried trigger is never overtaken by its resolve (which the pager would drop,
    leaving the incident open); an earlier event that failed for good blocks nothing.
    """
    earlier = aliased(OutboxMessage)
    blocked = exists().where(
        earlier.channel == Channel.PAGER,
        earlier.escalation_id == OutboxMessage.escalation_id,
        earlier.id < OutboxMessage.id,
        earlier.status.in_([PENDING, SENDING]),
    )
    return or_(OutboxMessage.channel != Channel.PAGER, ~blocked)


FailureListener = Callable[[Session, OutboxMessage, datetime], None]


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


DEMO_SUPPRESSED = "demo clinic: never sent (its numbers are fictional)"


def _demo_rows(session: Session, ids: list[int]) -> set[int]:
    """Which of these rows are for `tandem demo`'s clinic: its recipient's or escalation's."""
    demo_users = select(User.id).join(Clinic, User.clinic_id == Clinic.id).where(Clinic.demo)
    demo_escalations = (
        select(Escalation.id).join(Clinic, Escalation.clinic_id == Clinic.id).where(Clinic.demo)
    )
    return set(
        session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.id.in_(ids),
                or_(
                    OutboxMessage.recipient_id.in_(demo_users),
                    OutboxMessage.escalation_id.in_(demo_escalations),
                ),
            )
        )
    )


def _suppress(session: Session, row: OutboxMessage, *, now: datetime) -> None:
    """Record a demo row as cancelled, never sent, with a line in the log saying so.

    The demo must not text anyone, whatever the SMS backend: its activation texts, pages,
    reminders and calls are kept (the inbox shows them) but never reach a sender.
    """
    row.status = CANCELLED
    row.claimed_until = None
    row.last_error = DEMO_SUPPRESSED
    row.updated_at = now
    session.add(
        SmsAttempt(
            message_id=row.id, at=now, event="held", outcome="cancelled", detail=DEMO_SUPPRESSED
        )
    )
    log.info("outbox %s (%s %s) not sent: %s", row.id, row.channel, row.purpose, DEMO_SUPPRESSED)


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
            for message_id, attempt in held:
                session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == message_id,
                        OutboxMessage.attempts == attempt,
                        OutboxMessage.status == SENDING,
                    )
                    .values(claimed_until=now + self.lease)
                )

    def claim(self, *, limit: int | None = None) -> list[Claimed]:
        """Claim due rows, each under a lease, so no other dispatcher sends them meanwhile."""
        now = self.clock.now()
        with self.database.unit_of_work() as session:
            query = (
                select(OutboxMessage)
                .where(
                    or_(
                        (OutboxMessage.status == PENDING) & (OutboxMessage.next_attempt_at <= now),
                        (OutboxMessage.status == SENDING) & (OutboxMessage.claimed_until < now),
                    ),
                    _pager_events_in_order(),
                )
                .order_by(
                    OutboxMessage.priority.desc(),
                    OutboxMessage.next_attempt_at,
                    OutboxMessage.id,
                )
                .limit(limit or self.batch_size)
            )
            query = for_update(query, session, skip_locked=True)
            rows = session.scalars(query).all()
            suppressed = _demo_rows(session, [row.id for row in rows]) if rows else set()
            claimed = []
            for row in rows:
                if row.id in suppressed:
                    _suppress(session, row, now=now)
                    continue
                row.status = SENDING
                row.attempts += 1
                row.claimed_until = now + self.lease
                row.updated_at = now
                claimed.append(
                    Claimed(
                        row.id,
                        row.target or row.to_number,
                        row.body,
                        row.attempts,
                        channel=row.channel,
                        purpose=row.purpose,
                        created_at=row.created_at,
                    )
                )
            return claimed

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
        return "sent"

    def _held(self, item: Claimed) -> bool:
        """Run the purpose's pre-send checks; True when the message was deferred or cancelled."""
        now = self.clock.now()
        with self.database.unit_of_work() as session:
            message = session.get(OutboxMessage, item.id)
            if message is None or message.attempts != item.attempt or message.status != SENDING:
                return False  # a newer attempt owns the row; the send path's guard handles it
            verdict = None
            for check in self.pre_send_checks.get(message.purpose, []):
                try:
                    with session.begin_nested():
                        verdict = check(session, message, now)
                except Exception:
                    # A broken check must not lose the message: it is sent as queued.
                    log.exception("pre-send check for sms %s failed; sending as queued", item.id)
                    verdict = None
                if verdict is not None:
                    break
            if verdict is None:
                return False
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
            return True

    def _record_failure(self, item: Claimed, error: SmsError) -> str:
        now = self.clock.now()
        give_up = not error.retryable or item.attempt >= MAX_ATTEMPTS
        with self.database.unit_of_work() as session:
            message = session.get(OutboxMessage, item.id)
            assert message is not None
            if message.attempts != item.attempt or message.status != SENDING:
                # A newer attempt owns the row now; keep the log, leave its state alone.
                session.add(
                    SmsAttempt(
                        message_id=item.id,
                        at=now,
                        event="send",
                        outcome="stale",
                        error_code=error.code,
                        detail=str(error)[:1000],
                    )
                )
                return "retry"
            message.claimed_until = None
            message.error_code = error.code
            message.last_error = str(error)[:1000]
            message.updated_at = now
            if give_up:
                message.status = FAILED
            else:
                delay = backoff_seconds(item.attempt, rng=self.rng)
                if error.retry_after is not None:
                    delay = max(delay, error.retry_after)
                message.status = PENDING
                message.next_attempt_at = now + timedelta(seconds=delay)
            session.add(
                SmsAttempt(
                    message_id=item.id,
                    at=now,
                    event="send",
                    outcome="failed" if give_up else "retry",
                    error_code=error.code,
                    detail=str(error)[:1000],
                )
            )
            if give_up:
                log.warning(
                    "sms %s failed for good after %s attempt(s): code=%s",
                    item.id,
                    item.attempt,
                    error.code,
                )
                for listener in self.failure_listeners:
                    try:
                        # The failure is recorded whatever a listener does; the escalation
                        # timer still moves the chain on if this one could not.
                        with session.begin_nested():
                            listener(session, message, now)
                    except Exception:
                        log.exception("failure listener for sms %s failed", item.id)
        return "failed" if give_up else "retry"

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
            if outcome == "sent":
                stats.sent += 1
            elif outcome == "retry":
                stats.retried += 1
            elif outcome == "held":
                stats.held += 1
            else:
                stats.failed += 1
        return stats

    def release(self, items: Sequence[Claimed]) -> int:
        """Give back claims not sent (shutdown): due again at once, the attempt not counted.

        Only while the claim is still ours (same attempt, still sending), so a row another
        dispatcher re-claimed after our lease ran out is left alone.
        """
        if not items:
            return 0
        now = self.clock.now()
        released = 0
        with self.database.unit_of_work() as session:
            for item in items:
                result = session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == item.id,
                        OutboxMessage.attempts == item.attempt,
                        OutboxMessage.status == SENDING,
                    )
                    .values(
                        status=PENDING,
                        attempts=OutboxMessage.attempts - 1,
                        claimed_until=None,
                        updated_at=now,
                    )
                )
                released += int(getattr(result, "rowcount", 0) or 0)
        log.info("outbox: released %s claimed message(s) unsent on shutdown", released)
        return released

    def _observe(self, item: Claimed, outcome: str) -> None:
        SMS_SENT.labels(result=outcome).inc()
        if outcome == "sent" and item.purpose == "page" and item.created_at is not None:
            PAGE_LATENCY.observe(max(0.0, (self.clock.now() - item.created_at).total_seconds()))

    def sweep(self) -> DispatchStats | None:
        """The scheduler's safety net: wake this process's dispatcher threads, or drain here."""
        with _wakers_lock:
            workers_running = bool(_wakers)
        if workers_running:
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
            total.sent += stats.sent
            total.retried += stats.retried
            total.failed += stats.failed
            total.held += stats.held
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


class DispatcherWorker:
    """A thread that drains the outbox when woken, and sweeps it on a timer regardless.

    Woken in-process by :func:`wake_dispatchers` after a commit that queued SMS and, on
    PostgreSQL, by ``NOTIFY tandem_outbox`` from any process (a second thread LISTENs on a
    dedicated connection). The sweep is the safety net for a missed wake-up.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        sweep_seconds: float,
        listen: bool | None = None,
        concurrency: int | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.sweep_seconds = sweep_seconds
        postgres = is_postgresql(dispatcher.database.engine)
        # LISTEN by default whenever the outbox lives in PostgreSQL.
        self.listen = postgres if listen is None else listen
        # Sends wait on the network, so a burst of pages goes out over several connections;
        # SKIP LOCKED keeps the senders apart. SQLite has one writer: one sender is enough.
        self.concurrency = max(
            1, concurrency if concurrency is not None else (DEFAULT_CONCURRENCY if postgres else 1)
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self.listening = threading.Event()

    def start(self) -> None:
        register_waker(self._wake)
        self._thread = threading.Thread(target=self._loop, name="outbox-dispatcher", daemon=True)
        self._thread.start()
        if self.listen:
            self._listener = threading.Thread(
                target=self._listen_loop, name="outbox-listener", daemon=True
            )
            self._listener.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the send in flight, release the rest of the batch, then return."""
        self._stop.set()
        self.dispatcher.stopping.set()
        self._wake.set()
        unregister_waker(self._wake)
        for thread in (self._thread, self._listener):
            if thread is not None:
                thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        # This worker is done; the dispatcher itself may still be used (a command, a test).
        self.dispatcher.stopping.clear()

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        # Never sleep past a quarter lease: a row a dead process claimed is due again within
        # LEASE + LEASE/4 = 25 s, inside the 30 s an urgent page may wait.
        wait = min(self.sweep_seconds, self.dispatcher.lease.total_seconds() / 4)
        while not self._stop.is_set():
            self._wake.wait(wait)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self._drain()
            except Exception:
                # Logged with context; the rows stay due and the next wake or sweep retries them.
                log.exception("outbox dispatch pass failed; will retry on the next pass")

    def _drain(self) -> None:
        if self.concurrency == 1:
            self.dispatcher.drain()
            return
        # Small batches so every sender gets a share of a burst.
        per_sender = max(1, min(self.dispatcher.batch_size, 4))
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="outbox-send")
        futures = [
            self._pool.submit(self.dispatcher.drain, limit=per_sender)
            for _ in range(self.concurrency)
        ]
        for future in futures:
            future.result()

    def _conninfo(self) -> str:
        url = self.dispatcher.database.engine.url.set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    def _listen_loop(self) -> None:
        """LISTEN on a dedicated autocommit connection; reconnect (with a pause) if it drops."""
        import psycopg

        pause = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo(), autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.listening.set()
                    pause = 0.5
                    # A notification may have come before LISTEN took effect: drain once.
                    self._wake.set()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self._wake.set()
            except Exception:
                self.listening.clear()
                log.exception("outbox LISTEN connection failed; reconnecting")
                # The sweep still runs meanwhile, so nothing waits longer than a sweep.
                self._stop.wait(pause)
                pause = min(pause * 2, 30.0)
        self.listening.clear()
