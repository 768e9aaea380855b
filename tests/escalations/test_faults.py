"""Faults on the paging path: Twilio errors and outages, a dispatcher killed mid-send,
competing dispatchers, and wake-ups across processes. No page may be lost."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from notifications.outbox import LEASE, Dispatcher, DispatcherWorker, enqueue_sms
from services.runtime import Runtime
from store.clock import FrozenClock
from store.models import OutboxMessage, SmsAttempt
from tests.escalations.support import SUICIDAL, TwilioStandIn, phq9, raise_for, twilio_error
from tests.support.world import World

X1, Y1 = "+12025550101", "+12025550104"


def page_rows(rt: Runtime) -> list[OutboxMessage]:
    with rt.database.unit_of_work() as s:
        return list(
            s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.purpose == "page")
                .order_by(OutboxMessage.id)
            )
        )


def dispatcher_for(
    rt: Runtime, standin: TwilioStandIn, *, timeout: float = 5.0, base_url: str | None = None
) -> Dispatcher:
    """A dispatcher like the runtime's, sending through the real SDK to the stand-in."""
    return Dispatcher(
        database=rt.database,
        sender=standin.sender(timeout=timeout, base_url=base_url),
        clock=rt.clock,
        failure_listeners=list(rt.dispatcher.failure_listeners),
    )


def pages_for_three_patients(rt: Runtime, world: World) -> list[int]:
    ids = []
    for pid in (world.patient_a, world.patient_b, world.patient_c_y):
        ids.append(raise_for(rt, pid, phq9(SUICIDAL))[0].id)
    return ids


def body_counts(standin: TwilioStandIn) -> Counter[tuple[str, str]]:
    return Counter((r["To"], r["Body"]) for r in standin.received if "ACK" in r["Body"])


def test_twilio_errors_for_a_stretch_then_recovery_every_page_once(
    rt: Runtime, world: World, clock: FrozenClock, standin: TwilioStandIn
) -> None:
    dispatcher = dispatcher_for(rt, standin, timeout=0.5)
    dispatcher.drain()  # activation codes
    standin.received.clear()
    pages_for_three_patients(rt, world)
    # Ten bad replies: rate limits, server errors, and requests that time out.
    standin.faults.extend(
        [
            twilio_error(429, 20429, "Too Many Requests"),
            twilio_error(500, 20500, "Internal Server Error"),
            1.0,  # longer than the sender's 0.5 s timeout
            twilio_error(503, 20503, "Service Unavailable"),
            twilio_error(429, 20429, "Too Many Requests"),
            1.0,
            twilio_error(500, 20500, "Internal Server Error"),
            twilio_error(502, 20500, "Bad Gateway"),
            twilio_error(429, 20429, "Too Many Requests"),
            twilio_error(500, 20500, "Internal Server Error"),
        ]
    )
    for _ in range(40):
        dispatcher.drain()
        if not dispatcher.pending_ids() and not standin.faults:
            break
        clock.advance(timedelta(seconds=301))  # past the longest back-off
    assert not standin.faults
    assert list(dispatcher.pending_ids()) == []
    counts = body_counts(standin)
    assert sorted(to for to, _ in counts) == sorted([X1, X1, Y1])
    assert set(counts.values()) == {1}  # none twice
    with rt.database.unit_of_work() as s:
        retries = s.scalars(select(SmsAttempt).where(SmsAttempt.outcome == "retry")).all()
        assert len(retries) == 10
        assert {r.error_code for r in retries} >= {20429, 20500, 20503}
    assert all(p.status == "sent" for p in page_rows(rt))


def test_connection_refused_then_back_every_page_once(
    rt: Runtime, world: World, clock: FrozenClock, standin: TwilioStandIn
) -> None:
    good = dispatcher_for(rt, standin)
    good.drain()
    standin.received.clear()
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    down = dispatcher_for(rt, standin, timeout=0.5, base_url=f"http://127.0.0.1:{dead_port}")
    pages_for_three_patients(rt, world)
    for _ in range(3):
        stats = down.drain()
        assert stats.sent == 0 and stats.retried == 3
        clock.advance(timedelta(seconds=301))
    assert good.drain().sent == 3
    assert set(body_counts(standin).values()) == {1}
    assert len(body_counts(standin)) == 3
    assert all(p.status == "sent" and p.attempts == 4 for p in page_rows(rt))


def test_dispatcher_killed_between_send_and_record_sends_at_most_one_duplicate(
    rt: Runtime, world: World, clock: FrozenClock, standin: TwilioStandIn
) -> None:
    dispatcher = dispatcher_for(rt, standin)
    dispatcher.drain()
    standin.received.clear()
    ref = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0]
    [claimed] = dispatcher.claim()
    dispatcher.sender.send(to=claimed.to, body=claimed.body)  # ... and the process dies here
    assert dispatcher.drain().handled == 0  # still leased: nobody resends yet
    clock.advance(LEASE + timedelta(seconds=1))
    assert dispatcher.drain().sent == 1
    assert dispatcher.drain().handled == 0
    counts = body_counts(standin)
    assert list(counts.values()) == [2]  # exactly one duplicate, never a loss
    [row] = page_rows(rt)
    assert (row.status, row.attempts, row.escalation_id) == ("sent", 2, ref.id)


def test_dispatcher_killed_after_claim_before_send_loses_nothing(
    rt: Runtime, world: World, clock: FrozenClock, standin: TwilioStandIn
) -> None:
    dispatcher = dispatcher_for(rt, standin)
    dispatcher.drain()
    standin.received.clear()
    raise_for(rt, world.patient_a, phq9(SUICIDAL))
    assert len(dispatcher.claim()) == 1  # ... and the process dies before sending
    clock.advance(LEASE + timedelta(seconds=1))
    # A fresh dispatcher (the restarted process) picks the page up.
    assert dispatcher_for(rt, standin).drain().sent == 1
    assert list(body_counts(standin).values()) == [1]


def test_crash_before_commit_leaves_neither_escalation_nor_page(rt: Runtime, world: World) -> None:
    from services.escalations import raise_escalations
    from store.escalations import Escalation
    from store.models import PatientProfile

    with pytest.raises(RuntimeError), rt.database.unit_of_work() as s:
        patient = s.get(PatientProfile, world.patient_a)
        assert patient is not None
        raise_escalations(
            s,
            patient=patient,
            flags=phq9(SUICIDAL),
            source_type="phq9",
            source_id=None,
            now=rt.clock.now(),
        )
        raise RuntimeError("the request failed after raising")
    with rt.database.unit_of_work() as s:
        assert s.scalars(select(Escalation)).all() == []
    assert page_rows(rt) == []


def test_concurrent_dispatchers_never_double_send(
    rt: Runtime, world: World, standin: TwilioStandIn
) -> None:
    """Four dispatchers drain one outbox at once (SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE
    on SQLite): every message goes out exactly once."""
    dispatchers = [dispatcher_for(rt, standin) for _ in range(4)]
    dispatchers[0].drain()
    standin.received.clear()
    with rt.database.unit_of_work() as s:
        for n in range(60):
            enqueue_sms(
                s,
                to=f"+120255501{n % 100:02d}",
                body=f"Tandem: escalation {n}. ACK {n}",
                purpose="page",
                now=rt.clock.now(),
                dedupe_key=f"load:{n}",
                priority=100,
            )
    for d in dispatchers:
        d.batch_size = 5
    barrier = threading.Barrier(len(dispatchers))
    errors: list[BaseException] = []

    def run(d: Dispatcher) -> None:
        try:
            barrier.wait()
            d.drain()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(d,)) for d in dispatchers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    counts = body_counts(standin)
    assert len(counts) == 60 and set(counts.values()) == {1}
    with rt.database.unit_of_work() as s:
        assert set(s.scalars(select(OutboxMessage.status))) == {"sent"}


def test_notify_from_another_process_wakes_the_worker(
    rt: Runtime, world: World, standin: TwilioStandIn
) -> None:
    """PostgreSQL LISTEN/NOTIFY: a row queued by another process is sent without a sweep."""
    if rt.database.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    dispatcher = dispatcher_for(rt, standin)
    dispatcher.drain()
    standin.received.clear()
    worker = DispatcherWorker(dispatcher, sweep_seconds=120)
    assert worker.listen
    worker.start()
    try:
        assert worker.listening.wait(10)
        url = rt.database.engine.url.render_as_string(hide_password=False)
        script = (
            "import sys; from datetime import datetime, UTC\n"
            "from store import Database\n"
            "from notifications.outbox import enqueue_sms\n"
            "db = Database(sys.argv[1])\n"
            "with db.unit_of_work() as s:\n"
            "    enqueue_sms(s, to='+12025550101', body='Tandem: escalation 7. ACK 7',\n"
            "                purpose='page', now=datetime(2026, 11, 2, 14, tzinfo=UTC))\n"
        )
        root = Path(__file__).resolve().parents[2]
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", script, url], cwd=root, check=True, timeout=60)
        with standin.arrived:
            standin.arrived.wait_for(lambda: len(standin.received) >= 1, timeout=10)
        elapsed = time.monotonic() - started
    finally:
        worker.stop()
    assert standin.to_numbers() == [X1]
    assert elapsed < 10  # the sweep is 120 s away
