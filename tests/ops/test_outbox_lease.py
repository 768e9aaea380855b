"""Issue 15 item 10: a page a dead process claimed is re-claimable within 30 s.

The claim lease is short, and the live sender renews it while a send is in flight, so a
slow send is never claimed (and sent) a second time by another dispatcher.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from notifications.log_sms import LogSmsSender
from notifications.outbox import Dispatcher, enqueue_sms
from notifications.sms import SendResult
from store import Database
from store.clock import FrozenClock, SystemClock
from store.models import OutboxMessage


def queue_page(database: Database, clock: FrozenClock | SystemClock) -> int:
    with database.unit_of_work() as session:
        message_id = enqueue_sms(
            session,
            to="+12025550111",
            body="Tandem: an urgent escalation needs you.",
            purpose="page",
            now=clock.now(),
            priority=10,
        )
    assert message_id is not None
    return message_id


def test_a_claim_left_by_a_dead_dispatcher_is_reclaimable_within_30_s(
    database: Database, clock: FrozenClock
) -> None:
    dead = Dispatcher(database=database, sender=LogSmsSender(), clock=clock)
    message_id = queue_page(database, clock)
    assert [c.id for c in dead.claim()] == [message_id]
    # The process dies here, before sending. Another dispatcher, 30 s later:
    survivor_sms = LogSmsSender()
    survivor = Dispatcher(database=database, sender=survivor_sms, clock=clock)
    clock.advance(timedelta(seconds=5))
    assert survivor.claim() == []  # still held: the dead one might be sending
    clock.advance(timedelta(seconds=25))
    stats = survivor.run_once()
    assert stats.sent == 1
    assert len(survivor_sms.sent) == 1


class SlowSender:
    """Takes ``seconds`` per send, as Twilio can under load."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.sent: list[str] = []
        self.sending = threading.Event()

    def send(self, *, to: str, body: str, status_callback: str | None = None) -> SendResult:
        self.sending.set()
        time.sleep(self.seconds)
        self.sent.append(body)
        return SendResult(sid=f"SM{len(self.sent):032d}", status="queued")


def test_the_lease_is_renewed_while_a_slow_send_is_in_flight(database: Database) -> None:
    clock = SystemClock()
    slow = SlowSender(2.5)
    first = Dispatcher(database=database, sender=slow, clock=clock, lease=timedelta(seconds=1))
    rival_sms = LogSmsSender()
    rival = Dispatcher(database=database, sender=rival_sms, clock=clock, lease=timedelta(seconds=1))
    message_id = queue_page(database, clock)
    sending = threading.Thread(target=first.run_once)
    sending.start()
    assert slow.sending.wait(5)
    # The send takes 2.5 lease lengths; the rival keeps trying all along.
    while sending.is_alive():
        rival.run_once()
        time.sleep(0.1)
    sending.join()
    assert len(slow.sent) == 1
    assert list(rival_sms.sent) == []
    with database.unit_of_work() as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        assert (row.status, row.attempts, row.claimed_until) == ("sent", 1, None)


def test_a_hung_send_is_not_renewed_forever(database: Database) -> None:
    """Renewal stops after a bound, so a send stuck for good cannot hold a page hostage."""
    clock = SystemClock()
    stuck = SlowSender(4.0)
    first = Dispatcher(
        database=database,
        sender=stuck,
        clock=clock,
        lease=timedelta(seconds=1),
        max_hold=timedelta(seconds=1.5),
    )
    rival_sms = LogSmsSender()
    rival = Dispatcher(database=database, sender=rival_sms, clock=clock, lease=timedelta(seconds=1))
    queue_page(database, clock)
    sending = threading.Thread(target=first.run_once)
    sending.start()
    assert stuck.sending.wait(5)
    deadline = time.monotonic() + 10
    while not rival_sms.sent and time.monotonic() < deadline:
        rival.run_once()
        time.sleep(0.1)
    sending.join()
    assert len(rival_sms.sent) == 1
