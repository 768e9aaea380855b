"""The timer lease: one leader at a time, takeover after 30 s, hand-back to a scheduler."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from schedules.leader import API, SCHEDULER, Elector, LeaseStore, Tick
from services.runtime import Runtime
from store import Database
from store.clock import FrozenClock
from store.models import TimerLease


def lease(database: Database, clock: FrozenClock, role: str, name: str) -> LeaseStore:
    return LeaseStore(database, clock, role=role, holder=name)


def row(database: Database) -> TimerLease:
    with database.unit_of_work() as session:
        found = session.get(TimerLease, "timers")
        assert found is not None
        session.expunge(found)
        return found


def test_the_first_process_leads_and_the_others_stand_by(
    database: Database, clock: FrozenClock
) -> None:
    sched = lease(database, clock, SCHEDULER, "s1")
    api = lease(database, clock, API, "a1")
    assert sched.tick() is Tick.LEADING
    assert api.tick() is Tick.STANDBY
    clock.advance(timedelta(seconds=29))
    # A heartbeat 29 s old is not stale: the API process still stands by.
    assert api.tick() is Tick.STANDBY
    assert row(database).holder == "s1"


def test_an_api_process_takes_over_a_heartbeat_older_than_30_s(
    database: Database, clock: FrozenClock
) -> None:
    sched = lease(database, clock, SCHEDULER, "s1")
    api = lease(database, clock, API, "a1")
    other_api = lease(database, clock, API, "a2")
    assert sched.tick() is Tick.LEADING
    clock.advance(timedelta(seconds=31))
    assert api.tick() is Tick.LEADING
    assert other_api.tick() is Tick.STANDBY
    taken = row(database)
    assert (taken.holder, taken.role, taken.epoch) == ("a1", API, 2)
    # The dead scheduler, were it only paused, finds it lost the lead.
    assert sched.tick() is Tick.STANDBY


def test_a_returning_scheduler_gets_the_lead_back(database: Database, clock: FrozenClock) -> None:
    api = lease(database, clock, API, "a1")
    other_api = lease(database, clock, API, "a2")
    api.tick()
    other_api.tick()
    clock.advance(timedelta(seconds=31))
    assert api.tick() is Tick.LEADING
    sched = lease(database, clock, SCHEDULER, "s2")
    # It asks; the API holder steps down at its next tick and releases.
    assert sched.tick() is Tick.STANDBY
    assert row(database).handback_requested_at is not None
    clock.advance(timedelta(seconds=5))
    assert api.tick() is Tick.STEP_DOWN
    api.release()
    # The released lease is stale, but other API processes leave it to the scheduler.
    assert other_api.tick() is Tick.STANDBY
    assert sched.tick() is Tick.LEADING
    assert (row(database).holder, row(database).role) == ("s2", SCHEDULER)
    assert api.tick() is Tick.STANDBY


def test_a_scheduler_does_not_preempt_a_live_scheduler(
    database: Database, clock: FrozenClock
) -> None:
    first = lease(database, clock, SCHEDULER, "s1")
    second = lease(database, clock, SCHEDULER, "s2")
    assert first.tick() is Tick.LEADING
    for _ in range(10):
        clock.advance(timedelta(seconds=5))
        assert first.tick() is Tick.LEADING
        assert second.tick() is Tick.STANDBY
    # The standby stamps its presence; the live leader is not asked to step down.
    assert row(database).holder == "s1"


def test_concurrent_ticks_elect_exactly_one(database: Database, clock: FrozenClock) -> None:
    """Eight processes' worth of electors tick at once, over and over: one leader each round."""
    stores = [lease(database, clock, API if n % 2 else SCHEDULER, f"p{n}") for n in range(8)]
    for _ in range(5):
        results: list[Tick] = []
        lock = threading.Lock()
        barrier = threading.Barrier(len(stores))

        def tick(
            store: LeaseStore,
            barrier: threading.Barrier = barrier,
            lock: threading.Lock = lock,
            results: list[Tick] = results,
        ) -> None:
            barrier.wait()
            outcome = store.tick()
            with lock:
                results.append(outcome)

        threads = [threading.Thread(target=tick, args=(s,)) for s in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert results.count(Tick.LEADING) == 1, results
        # Every round the leader dies: the next round happens after its heartbeat is stale.
        clock.advance(timedelta(seconds=31))
        leader = row(database).holder
        stores = [s for s in stores if s.holder != leader]


class Recorder:
    def __init__(self) -> None:
        self.started = 0
        self.stopped = 0

    def start(self) -> Recorder:
        self.started += 1
        return self

    def stop(self) -> None:
        self.stopped += 1


def test_the_elector_starts_timers_when_leading_and_stops_them_on_losing(
    database: Database, clock: FrozenClock
) -> None:
    timers = Recorder()
    elector = Elector(lease(database, clock, API, "a1"), start_timers=timers.start)
    elector.tick_once()
    clock.advance(timedelta(seconds=31))
    assert elector.tick_once() is Tick.LEADING
    assert elector.is_leader() and timers.started == 1
    assert elector.tick_once() is Tick.LEADING
    assert timers.started == 1  # not started twice
    sched = lease(database, clock, SCHEDULER, "s1")
    sched.tick()
    assert elector.tick_once() is Tick.STEP_DOWN
    assert not elector.is_leader() and timers.stopped == 1
    assert sched.tick() is Tick.LEADING


def test_a_leader_that_cannot_renew_stops_its_timers_before_anyone_may_take_over(
    database: Database, clock: FrozenClock
) -> None:
    timers = Recorder()
    elector = Elector(
        lease(database, clock, SCHEDULER, "s1"),
        start_timers=timers.start,
        self_fence_after=timedelta(seconds=0),
    )
    assert elector.tick_once() is Tick.LEADING
    database.dispose()
    broken = Database("sqlite:////nonexistent/dir/x.sqlite3")
    elector.lease.database = broken
    assert elector.tick_once() is None
    assert timers.stopped == 1 and not elector.is_leader()


def test_with_no_lease_yet_an_api_process_leaves_a_starting_scheduler_30_s(
    database: Database, clock: FrozenClock
) -> None:
    api = lease(database, clock, API, "a1")
    assert api.tick() is Tick.STANDBY
    clock.advance(timedelta(seconds=29))
    assert api.tick() is Tick.STANDBY
    clock.advance(timedelta(seconds=2))
    # Still no scheduler after 30 s: the API process takes the lead.
    assert api.tick() is Tick.LEADING


def test_a_standby_scheduler_not_an_api_process_succeeds_a_dead_scheduler(
    database: Database, clock: FrozenClock
) -> None:
    first = lease(database, clock, SCHEDULER, "s1")
    second = lease(database, clock, SCHEDULER, "s2")
    api = lease(
        database,
        clock,
        API,
        "a1",
    )
    api.started_at = clock.now() - timedelta(minutes=5)
    assert first.tick() is Tick.LEADING
    # s1 dies; s2 keeps standing by every 5 s; the API process ticks first once stale.
    for _ in range(6):
        clock.advance(timedelta(seconds=5))
        assert second.tick() is Tick.STANDBY
    clock.advance(timedelta(seconds=1))
    assert api.tick() is Tick.STANDBY
    assert second.tick() is Tick.LEADING


def test_a_new_leader_runs_every_job_at_once(rt: Runtime) -> None:
    """Tiers that fell due while nobody led must not wait another interval (or a misfire)."""
    from schedules.jobs import build_scheduler, job_table

    ran: list[str] = []
    scheduler = build_scheduler(rt, blocking=False, leads=lambda: True)
    for job in scheduler.get_jobs():
        job.modify(func=lambda name=job.id: ran.append(name))
    time.sleep(1.5)  # later than APScheduler's default misfire grace of 1 s
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while len(set(ran)) < len(job_table(rt)) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
    assert set(ran) == {job_id for job_id, _, _ in job_table(rt)}
