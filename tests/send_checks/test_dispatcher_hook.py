"""The pre-send hook: consulted per purpose, never for pages, never losing a message."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from notifications.log_sms import LogSmsSender
from notifications.outbox import Dispatcher, Hold, enqueue_sms
from store import Database
from store.clock import FrozenClock
from store.models import OutboxMessage


def _queue(database: Database, clock: FrozenClock, purpose: str, key: str) -> None:
    with database.unit_of_work() as s:
        enqueue_sms(
            s,
            to="+12025550150",
            body="Tandem: hello",
            purpose=purpose,
            now=clock.now(),
            dedupe_key=key,
        )


def _statuses(database: Database) -> dict[str, str]:
    with database.unit_of_work() as s:
        return {m.dedupe_key or "": m.status for m in s.scalars(select(OutboxMessage))}


def test_pages_can_never_be_given_a_check(database: Database, clock: FrozenClock) -> None:
    dispatcher = Dispatcher(database=database, sender=LogSmsSender(), clock=clock)
    with pytest.raises(ValueError):
        dispatcher.add_pre_send_check("page", lambda s, m, n: Hold("nope"))


def test_checks_apply_to_their_purpose_only_and_a_broken_one_sends(
    database: Database, clock: FrozenClock
) -> None:
    sender = LogSmsSender()
    dispatcher = Dispatcher(database=database, sender=sender, clock=clock)
    later = clock.now() + timedelta(hours=1)

    def defer(session: Session, message: OutboxMessage, now: object) -> Hold | None:
        return Hold("quiet_hours", until=later, body="Tandem: hello again")

    def broken(session: Session, message: OutboxMessage, now: object) -> Hold | None:
        raise RuntimeError("boom")

    dispatcher.add_pre_send_check("reminder", defer)
    dispatcher.add_pre_send_check("other", broken)
    _queue(database, clock, "reminder", "r")
    _queue(database, clock, "other", "o")
    _queue(database, clock, "page", "p")
    stats = dispatcher.drain()
    assert (stats.sent, stats.held) == (2, 1)
    assert _statuses(database) == {"r": "pending", "o": "sent", "p": "sent"}
    clock.advance(timedelta(hours=1))
    dispatcher.pre_send_checks.clear()
    dispatcher.drain()
    assert [body for _to, body in sender.sent][-1] == "Tandem: hello again"
