"""Fault injection on the SMS path: every queued message is delivered, duplicates are bounded.

Documented bounds (notifications/outbox.py): a message is never lost; a duplicate needs a
send whose outcome was not recorded, so there is at most one per Twilio request that timed
out after Twilio took it, and, per dispatcher process killed (or cut off from the database)
between a send and its record, at most one per send in flight: a `tandem scheduler` process
drains with the DispatcherWorker's senders and the APScheduler outbox sweep, so at most
drainers_per_process() (2 on SQLite; DEFAULT_CONCURRENCY + 1 on PostgreSQL). No message is
ever sent more than twice in these scenarios. Errors Twilio answers (429, 500) and refused
connections cause none. Each scenario counts expected, delivered, duplicated and lost.

Time is real here: back-off waits are seconds. A killed dispatcher's claim lease (20 s)
is skipped by moving its ``claimed_until`` into the past, as if the lease had run out.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from notifications import outbox
from notifications.log_sms import LogSmsSender
from notifications.outbox import Dispatcher
from notifications.twilio_sms import TwilioSmsSender
from store import Database
from store.clock import SystemClock
from tests.faults.standin import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, TwilioStandIn
from tests.support.faults import (
    PROCESS_NAME,
    Dispatchers,
    enqueue,
    expire_leases,
    tally,
    unfinished,
    wait_for,
)

pytestmark = pytest.mark.faults


def drainers_per_process(database: Database) -> int:
    """Sends a `tandem scheduler` process can have in flight at once.

    The DispatcherWorker's senders (several on PostgreSQL, one on SQLite) plus the
    APScheduler "outbox-sweep" job, each with one send at a time.
    """
    worker = outbox.DispatcherWorker(
        outbox.Dispatcher(database=database, sender=LogSmsSender(), clock=SystemClock()),
        sweep_seconds=1,
        listen=False,
    )
    return int(getattr(worker, "concurrency", 1)) + 1


def _dispatcher(
    database: Database, standin: TwilioStandIn, *, timeout: float = 5.0
) -> tuple[Dispatcher, TwilioSmsSender]:
    sender = TwilioSmsSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        api_base_url=standin.base_url,
        timeout=timeout,
    )
    return Dispatcher(database=database, sender=sender, clock=SystemClock()), sender


def settle(database: Database, standin: TwilioStandIn, *, quiet: float = 2.0) -> None:
    """Wait until everything is sent or the stand-in has heard nothing for ``quiet`` s."""
    deadline = time.monotonic() + 60
    seen, since = standin.requests, time.monotonic()
    while time.monotonic() < deadline and unfinished(database):
        time.sleep(0.1)
        if standin.requests != seen:
            seen, since = standin.requests, time.monotonic()
        elif time.monotonic() - since > quiet:
            return


def _run_until_done(dispatcher: Dispatcher, database: Database, *, seconds: float) -> None:
    """Dispatch passes until nothing is pending (bounded by ``seconds``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and unfinished(database):
        dispatcher.run_once()
        time.sleep(0.1)


@pytest.mark.parametrize("status", ["429", "500"])
def test_twilio_errors_for_a_stretch_then_recovery(
    database: Database, standin: TwilioStandIn, status: str
) -> None:
    markers = enqueue(database, 60)
    standin.plan = lambda n: status if n < 40 else "ok"
    dispatcher, sender = _dispatcher(database, standin)
    try:
        _run_until_done(dispatcher, database, seconds=30)
    finally:
        sender.close()
    result = tally(database, standin, markers)
    print(f"\n{result}")
    assert standin.outcomes[status] == 40
    assert result.lost == 0, result
    assert result.duplicated == 0, result
    assert result.statuses == {"sent": 60}, result


def test_twilio_timeouts_then_recovery(database: Database, standin: TwilioStandIn) -> None:
    markers = enqueue(database, 20)
    standin.slow_seconds = 1.0
    standin.plan = lambda n: "slow" if n < 4 else "ok"
    dispatcher, sender = _dispatcher(database, standin, timeout=0.4)
    try:
        _run_until_done(dispatcher, database, seconds=30)
    finally:
        sender.close()
    result = tally(database, standin, markers)
    print(f"\n{result}")
    assert result.lost == 0, result
    # Twilio took each timed-out request; resending it is the documented price.
    assert result.duplicated <= standin.outcomes["slow"] == 4, result
    assert result.statuses == {"sent": 20}, result


def test_twilio_refusing_connections_then_recovery(
    database: Database, standin: TwilioStandIn
) -> None:
    markers = enqueue(database, 60)
    standin.delay = 0.01
    dispatcher, sender = _dispatcher(database, standin)

    def outage() -> None:
        wait_for(lambda: sum(standin.accepted.values()) >= 10, timeout=10, step=0.005)
        standin.refuse_for(1.5)

    breaker = threading.Thread(target=outage, daemon=True)
    breaker.start()
    try:
        _run_until_done(dispatcher, database, seconds=40)
    finally:
        breaker.join(10)
        sender.close()
    result = tally(database, standin, markers)
    print(f"\n{result}")
    assert result.lost == 0, result
    assert result.duplicated == 0, result
    assert result.statuses == {"sent": 60}, result


def test_dispatcher_killed_mid_batch_and_restarted(
    database: Database, standin: TwilioStandIn, dispatchers: Dispatchers
) -> None:
    markers = enqueue(database, 150)
    standin.delay = 0.02
    kills = 0
    for threshold in (40, 90):
        proc = dispatchers.start()

        def reached(t: int = threshold) -> bool:
            return sum(standin.accepted.values()) >= t

        assert wait_for(reached, timeout=30), dispatchers.logs()
        dispatchers.kill(proc)
        kills += 1
        # The batch it had claimed stays "sending" until the lease runs out.
        expire_leases(database)
    dispatchers.start()
    assert wait_for(lambda: unfinished(database) == 0, timeout=60), dispatchers.logs()
    result = tally(database, standin, markers)
    print(f"\n{result}")
    assert result.lost == 0, result
    assert result.duplicated <= kills * drainers_per_process(database), result
    assert result.most_copies <= 2, result
    assert result.statuses == {"sent": 150}, result


def test_two_dispatchers_at_once(
    database: Database, standin: TwilioStandIn, dispatchers: Dispatchers
) -> None:
    markers = enqueue(database, 300)
    standin.delay = 0.005
    dispatchers.start()
    dispatchers.start()
    assert wait_for(lambda: unfinished(database) == 0, timeout=90), dispatchers.logs()
    result = tally(database, standin, markers)
    print(f"\n{result}")
    assert result.lost == 0, result
    assert result.duplicated == 0, result
    assert result.statuses == {"sent": 300}, result
    assert all(p.poll() is None for p in dispatchers.procs), "a dispatcher died"


def test_postgres_connections_dropped_under_load(
    database: Database, standin: TwilioStandIn, dispatchers: Dispatchers
) -> None:
    if database.dialect != "postgresql":
        pytest.skip("terminating backends needs PostgreSQL (set TEST_DATABASE_URL)")
    markers = enqueue(database, 300)
    standin.delay = 0.03
    dispatchers.start()
    dispatchers.start()
    assert wait_for(lambda: sum(standin.accepted.values()) >= 20, timeout=30), dispatchers.logs()
    terminated = 0
    for _ in range(8):
        wait_for(lambda: False, timeout=0.3)
        with database.engine.begin() as conn:
            terminated += int(
                conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": PROCESS_NAME},
                ).scalar_one()
            )
    # More work queued while the dispatchers reconnect: the NOTIFY path must come back too.
    markers += enqueue(database, 50, start=300)
    # Let the survivors settle, then release any claim cut off mid-record.
    settle(database, standin)
    expire_leases(database)
    assert wait_for(lambda: unfinished(database) == 0, timeout=60), dispatchers.logs()
    result = tally(database, standin, markers)
    print(f"\n{result}")
    print(f"terminated backends: {terminated}")
    assert terminated > 0
    assert result.lost == 0, result
    assert result.duplicated <= terminated, result
    assert result.most_copies <= 2, result
    assert result.statuses == {"sent": 350}, result
    assert all(p.poll() is None for p in dispatchers.procs), "a dispatcher died"
