"""The SMS outbox and its dispatcher, sending through the real Twilio SDK to a local stand-in."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from notifications.outbox import (
    LEASE,
    MAX_ATTEMPTS,
    Dispatcher,
    DispatcherWorker,
    enqueue_sms,
    register_waker,
    unregister_waker,
)
from notifications.twilio_sms import TwilioSmsSender
from store import Database
from store.clock import FrozenClock
from store.models import OutboxMessage, SmsAttempt

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-auth-token-for-tests"
FROM_NUMBER = "+12025550100"
TO_NUMBER = "+12025550150"
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
CALLBACK = "https://tandem.example.org/webhooks/twilio/status"


def sid(n: int) -> str:
    return f"SM{n:032x}"


def created(n: int = 1) -> dict[str, Any]:
    return {
        "account_sid": ACCOUNT_SID,
        "sid": sid(n),
        "status": "queued",
        "to": TO_NUMBER,
        "from": FROM_NUMBER,
        "body": "hello",
    }


def twilio_error(code: int, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": f"error {code}",
        "status": status,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
    }


def make_sender(base_url: str) -> TwilioSmsSender:
    return TwilioSmsSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        api_base_url=base_url,
        timeout=5.0,
    )


@pytest.fixture
def sender(httpserver: HTTPServer) -> Iterator[TwilioSmsSender]:
    with make_sender(httpserver.url_for("").rstrip("/")) as twilio:
        yield twilio


@pytest.fixture
def dispatcher(database: Database, sender: TwilioSmsSender, clock: FrozenClock) -> Dispatcher:
    return Dispatcher(database=database, sender=sender, clock=clock, status_callback_url=CALLBACK)


def queue(
    database: Database,
    clock: FrozenClock,
    *,
    body: str = "Tandem: hello",
    dedupe_key: str | None = None,
    priority: int = 0,
    to: str = TO_NUMBER,
) -> int | None:
    with database.unit_of_work() as session:
        return enqueue_sms(
            session,
            to=to,
            body=body,
            purpose="test",
            now=clock.now(),
            dedupe_key=dedupe_key,
            priority=priority,
        )


def row(database: Database, message_id: int) -> OutboxMessage:
    with database.session() as session:
        return session.get_one(OutboxMessage, message_id)


def attempts(database: Database, message_id: int) -> list[tuple[str, str, int | None]]:
    with database.session() as session:
        return [
            (a.event, a.outcome, a.error_code)
            for a in session.scalars(
                select(SmsAttempt)
                .where(SmsAttempt.message_id == message_id)
                .order_by(SmsAttempt.id)
            )
        ]


def forms(httpserver: HTTPServer) -> list[dict[str, list[str]]]:
    return [parse_qs(request.get_data(as_text=True)) for request, _ in httpserver.log]


def test_a_sent_message_records_twilios_sid(
    httpserver: HTTPServer, dispatcher: Dispatcher, database: Database, clock: FrozenClock
) -> None:
    httpserver.expect_request(MESSAGES_PATH, method="POST").respond_with_json(created(7), 201)
    message_id = queue(database, clock, body="Tandem: your code is 123456.")
    assert message_id is not None

    stats = dispatcher.drain()

    assert (stats.sent, stats.retried, stats.failed) == (1, 0, 0)
    (form,) = forms(httpserver)
    assert form == {
        "To": [TO_NUMBER],
        "Body": ["Tandem: your code is 123456."],
        "From": [FROM_NUMBER],
        "StatusCallback": [CALLBACK],
    }
    sent = row(database, message_id)
    assert sent.status == "sent" and sent.twilio_sid == sid(7)
    assert sent.delivery_status == "queued" and sent.sent_at == clock.now()
    assert sent.attempts == 1 and sent.claimed_until is None
    assert attempts(database, message_id) == [("send", "sent", None)]
    assert dispatcher.drain().handled == 0
    assert len(httpserver.log) == 1


@pytest.mark.parametrize(
    ("status", "code", "headers"),
    [(429, 20429, {"Retry-After": "30"}), (500, 20500, {}), (503, None, {})],
    ids=["429 too many requests", "500 server error", "503 no body"],
)
def test_a_retryable_failure_is_retried_later_with_back_off(
    status: int,
    code: int | None,
    headers: dict[str, str],
    httpserver: HTTPServer,
    dispatcher: Dispatcher,
    database: Database,
    clock: FrozenClock,
) -> None:
    if code is None:
        httpserver.expect_request(MESSAGES_PATH).respond_with_data("down", status)
    else:
        httpserver.expect_request(MESSAGES_PATH).respond_with_json(
            twilio_error(code, status), status, headers=headers
        )
    message_id = queue(database, clock)
    assert message_id is not None
    start = clock.now()

    stats = dispatcher.drain()

    assert (stats.sent, stats.retried, stats.failed) == (0, 1, 0)
    first = row(database, message_id)
    assert first.status == "pending" and first.attempts == 1 and first.error_code == code
    assert first.claimed_until is None
    delay = (first.next_attempt_at - start).total_seconds()
    assert (30 <= delay <= 31) if headers else (1 <= delay <= 2)
    assert attempts(database, message_id) == [("send", "retry", code)]
    # Not due yet: nothing is sent.
    assert dispatcher.drain().handled == 0
    assert len(httpserver.log) == 1

    # Each further failure waits longer (exponential back-off, within jitter).
    delays = []
    for _ in range(3):
        clock.set(row(database, message_id).next_attempt_at)
        before = clock.now()
        assert dispatcher.drain().retried == 1
        delays.append((row(database, message_id).next_attempt_at - before).total_seconds())
    if not headers:
        assert 2 <= delays[0] <= 4 and 4 <= delays[1] <= 8 and 8 <= delays[2] <= 16
    assert row(database, message_id).attempts == 4
    assert len(httpserver.log) == 4


def test_an_unreachable_twilio_is_retried(database: Database, clock: FrozenClock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now: the connection is refused.
    with make_sender(f"http://127.0.0.1:{port}") as unreachable:
        dispatcher = Dispatcher(database=database, sender=unreachable, clock=clock)
        message_id = queue(database, clock)
        assert message_id is not None
        assert dispatcher.drain().retried == 1
    message = row(database, message_id)
    assert message.status == "pending" and message.attempts == 1
    assert message.next_attempt_at > clock.now()
    assert "unreachable" in (message.last_error or "")


@pytest.mark.parametrize("code", [21610, 21211])
def test_a_permanent_failure_is_not_retried(
    code: int,
    httpserver: HTTPServer,
    dispatcher: Dispatcher,
    database: Database,
    clock: FrozenClock,
) -> None:
    httpserver.expect_request(MESSAGES_PATH).respond_with_json(twilio_error(code, 400), 400)
    failures: list[tuple[int, int | None]] = []
    dispatcher.failure_listeners.append(
        lambda session, message, now: failures.append((message.id, message.error_code))
    )
    message_id = queue(database, clock)
    assert message_id is not None

    assert dispatcher.drain().failed == 1
    clock.advance(timedelta(hours=6))
    assert dispatcher.drain().handled == 0

    message = row(database, message_id)
    assert message.status == "failed" and message.error_code == code
    assert message.attempts == 1 and message.twilio_sid is None
    assert attempts(database, message_id) == [("send", "failed", code)]
    assert failures == [(message_id, code)]
    assert len(httpserver.log) == 1


def test_retries_end_after_max_attempts(
    httpserver: HTTPServer, dispatcher: Dispatcher, database: Database, clock: FrozenClock
) -> None:
    httpserver.expect_request(MESSAGES_PATH).respond_with_json(twilio_error(20500, 500), 500)
    message_id = queue(database, clock)
    assert message_id is not None
    for _ in range(MAX_ATTEMPTS):
        clock.set(max(clock.now(), row(database, message_id).next_attempt_at))
        dispatcher.drain()
    message = row(database, message_id)
    assert message.status == "failed" and message.attempts == MAX_ATTEMPTS
    clock.advance(timedelta(days=1))
    assert dispatcher.drain().handled == 0
    assert len(httpserver.log) == MAX_ATTEMPTS


def test_a_crash_between_send_and_record_sends_again_at_most_once(
    httpserver: HTTPServer,
    dispatcher: Dispatcher,
    sender: TwilioSmsSender,
    database: Database,
    clock: FrozenClock,
) -> None:
    httpserver.expect_ordered_request(MESSAGES_PATH).respond_with_json(created(1), 201)
    httpserver.expect_ordered_request(MESSAGES_PATH).respond_with_json(created(2), 201)
    message_id = queue(database, clock)
    assert message_id is not None

    (claimed,) = dispatcher.claim()
    sender.send(to=claimed.to, body=claimed.body)  # ...and the process dies before recording.
    crashed = row(database, message_id)
    assert crashed.status == "sending" and crashed.claimed_until == clock.now() + LEASE

    # While the lease holds, no dispatcher touches it.
    clock.advance(LEASE - timedelta(seconds=1))
    assert dispatcher.drain().handled == 0
    clock.advance(timedelta(seconds=2))
    assert dispatcher.drain().sent == 1
    clock.advance(LEASE * 10)
    assert dispatcher.drain().handled == 0

    assert len(httpserver.log) == 2
    message = row(database, message_id)
    assert message.status == "sent" and message.twilio_sid == sid(2) and message.attempts == 2


def test_two_dispatchers_do_not_send_the_same_message(
    httpserver: HTTPServer,
    dispatcher: Dispatcher,
    sender: TwilioSmsSender,
    database: Database,
    clock: FrozenClock,
) -> None:
    httpserver.expect_request(MESSAGES_PATH).respond_with_json(created(), 201)
    for n in range(5):
        queue(database, clock, body=f"message {n}")
    other = Dispatcher(database=database, sender=sender, clock=clock)
    first, second = dispatcher.claim(limit=3), other.claim(limit=10)
    assert len(first) == 3 and len(second) == 2
    assert not {c.id for c in first} & {c.id for c in second}


def test_higher_priority_goes_first(
    httpserver: HTTPServer, dispatcher: Dispatcher, database: Database, clock: FrozenClock
) -> None:
    httpserver.expect_request(MESSAGES_PATH).respond_with_json(created(), 201)
    queue(database, clock, body="reminder")
    queue(database, clock, body="page", priority=10)
    dispatcher.drain()
    assert [f["Body"] for f in forms(httpserver)] == [["page"], ["reminder"]]


def test_a_dedupe_key_queues_once(
    httpserver: HTTPServer, dispatcher: Dispatcher, database: Database, clock: FrozenClock
) -> None:
    httpserver.expect_request(MESSAGES_PATH).respond_with_json(created(), 201)
    first = queue(database, clock, dedupe_key="reminder:42:2026-11-03")
    second = queue(database, clock, dedupe_key="reminder:42:2026-11-03")
    with database.unit_of_work() as session:
        ids = [
            enqueue_sms(
                session,
                to=TO_NUMBER,
                body="x",
                purpose="test",
                now=clock.now(),
                dedupe_key="reminder:42:2026-11-03",
            ),
            enqueue_sms(
                session,
                to=TO_NUMBER,
                body="y",
                purpose="test",
                now=clock.now(),
                dedupe_key="reminder:43:2026-11-03",
            ),
            enqueue_sms(
                session,
                to=TO_NUMBER,
                body="z",
                purpose="test",
                now=clock.now(),
                dedupe_key="reminder:43:2026-11-03",
            ),
        ]
    assert first is not None and second is None
    assert ids[0] is None and ids[1] is not None and ids[2] is None
    assert dispatcher.drain().sent == 2
    assert len(httpserver.log) == 2
    # Messages without a key never collide.
    assert queue(database, clock) is not None and queue(database, clock) is not None


def test_a_rolled_back_enqueue_leaves_no_row_no_sms_and_no_wake(
    httpserver: HTTPServer, dispatcher: Dispatcher, database: Database, clock: FrozenClock
) -> None:
    woken = threading.Event()
    register_waker(woken)
    try:
        with (
            pytest.raises(RuntimeError, match="after queueing"),
            database.unit_of_work() as session,
        ):
            enqueue_sms(
                session,
                to=TO_NUMBER,
                body="never",
                purpose="test",
                now=clock.now(),
                dedupe_key="once",
            )
            raise RuntimeError("the change failed after queueing its SMS")
    finally:
        unregister_waker(woken)
    assert not woken.is_set()
    with database.session() as session:
        assert session.scalars(select(OutboxMessage)).all() == []
    assert dispatcher.drain().handled == 0
    assert httpserver.log == []
    # The dedupe key was not used up by the rolled-back attempt.
    assert queue(database, clock, dedupe_key="once") is not None


def test_a_commit_wakes_registered_dispatchers(database: Database, clock: FrozenClock) -> None:
    woken = threading.Event()
    register_waker(woken)
    try:
        with database.unit_of_work() as session:
            enqueue_sms(session, to=TO_NUMBER, body="wake", purpose="test", now=clock.now())
            session.flush()
            assert not woken.is_set()
        assert woken.is_set()
        woken.clear()
        # A dedupe hit queues nothing and wakes nobody.
        queue(database, clock, dedupe_key="k")
        woken.clear()
        assert queue(database, clock, dedupe_key="k") is None
        assert not woken.is_set()
    finally:
        unregister_waker(woken)


def test_the_worker_sends_as_soon_as_a_commit_wakes_it(
    httpserver: HTTPServer, dispatcher: Dispatcher, database: Database, clock: FrozenClock
) -> None:
    httpserver.expect_request(MESSAGES_PATH).respond_with_json(created(9), 201)
    # A sweep far longer than the test: only the wake-up can deliver in time.
    worker = DispatcherWorker(dispatcher, sweep_seconds=3600, listen=False)
    worker.start()
    try:
        message_id = queue(database, clock)
        assert message_id is not None
        deadline = time.monotonic() + 10
        while row(database, message_id).status != "sent" and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        worker.stop()
    assert row(database, message_id).status == "sent"
    assert len(httpserver.log) == 1
