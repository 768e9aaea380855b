"""Leader election for the timers: any process can run them, exactly one at a time.

One row of ``timer_leases`` names the leader and carries its heartbeat. Every process
(gunicorn API workers, ``tandem scheduler``, ``tandem run``) runs an :class:`Elector`
thread that ticks every :data:`HEARTBEAT_SECONDS`:

* the holder renews the heartbeat;
* a dedicated scheduler takes the lease when the heartbeat is older than
  :data:`TAKEOVER_AFTER`; standing by, it stamps ``handback_requested_at`` at every tick,
  which asks an API holder to hand the lead back;
* an API process takes the lease only when the heartbeat is stale and no scheduler has
  stood by recently (so a surviving scheduler, not an API worker, succeeds a dead
  scheduler): that is the takeover ``/readyz`` reports;
* an API holder that is asked to hand back stops its timers first, then releases.

Each decision is one transaction over the row, locked ``FOR UPDATE`` on PostgreSQL, so two
processes can never both win it. A leader that cannot renew for :data:`SELF_FENCE_AFTER`
(shorter than the takeover time) stops its timers on its own, so a partitioned or stalled
leader has stood down before anyone may take over. The timers' jobs are idempotent through
persisted state, so the residual risk (clocks skewed by more than that margin) costs work,
not safety.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Protocol

from sqlalchemy import select

from services.operations import API_ROLE, SCHEDULER_ROLE, TIMER_LEASE
from store import Database
from store.clock import Clock
from store.dialects import for_update, insert_or_skip
from store.models import TimerLease

log = logging.getLogger("tandem.leader")

LEASE_NAME = TIMER_LEASE
SCHEDULER = SCHEDULER_ROLE
API = API_ROLE
HEARTBEAT_SECONDS = 5.0
# An API process takes over when the leader's heartbeat is older than this.
TAKEOVER_AFTER = timedelta(seconds=30)
# A leader that could not renew for this long stops its timers by itself (before anyone
# else may take over at TAKEOVER_AFTER).
SELF_FENCE_AFTER = timedelta(seconds=20)
# After a scheduler asks for the lead, API processes leave a stale lease to it for this long.
HANDBACK_PRIORITY = timedelta(seconds=3 * HEARTBEAT_SECONDS)


class Tick(Enum):
    LEADING = "leading"
    STANDBY = "standby"
    # An API holder asked to hand the lead back to a scheduler: stop the timers, release.
    STEP_DOWN = "step_down"


def holder_id(role: str) -> str:
    """A name unique to this process: role, host, pid and a random suffix."""
    return f"{role}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class LeaseStore:
    """The lease row's transactions; every method is one short unit of work."""

    database: Database
    clock: Clock
    role: str
    holder: str
    takeover_after: timedelta = TAKEOVER_AFTER
    started_at: datetime | None = None

    def tick(self) -> Tick:
        """Renew, take, or stand by, in one transaction over the locked lease row."""
        now = self.clock.now()
        if self.started_at is None:
            self.started_at = now
        with self.database.unit_of_work() as session:
            if (
                self.role == API
                and now - self.started_at < self.takeover_after
                and session.get(TimerLease, LEASE_NAME) is None
            ):
                # Nobody ever led: a missing heartbeat is as old as this process. A
                # scheduler starting beside us gets the first 30 s to claim the lead.
                return Tick.STANDBY
            created = session.execute(
                insert_or_skip(session, TimerLease)
                .values(
                    name=LEASE_NAME,
                    holder=self.holder,
                    role=self.role,
                    epoch=1,
                    acquired_at=now,
                    heartbeat_at=now,
                    handback_requested_at=None,
                )
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(TimerLease.name)
            ).first()
            if created is not None:
                return Tick.LEADING
            query = for_update(select(TimerLease).where(TimerLease.name == LEASE_NAME), session)
            lease = session.scalars(query).one()
            # A standby scheduler writes handback_requested_at at every tick: while it is
            # recent, a scheduler is alive and wants the lead.
            handback_pending = (
                lease.handback_requested_at is not None
                and lease.handback_requested_at > now - HANDBACK_PRIORITY
            )
            if lease.holder == self.holder:
                if self.role == API and handback_pending:
                    return Tick.STEP_DOWN
                lease.heartbeat_at = now
                return Tick.LEADING
            stale = lease.heartbeat_at < now - self.takeover_after
            if stale and (self.role == SCHEDULER or not handback_pending):
                lease.holder = self.holder
                lease.role = self.role
                lease.epoch += 1
                lease.acquired_at = now
                lease.heartbeat_at = now
                lease.handback_requested_at = None
                return Tick.LEADING
            if self.role == SCHEDULER:
                lease.handback_requested_at = now
            return Tick.STANDBY

    def release(self) -> None:
        """Give the lead up at once: the heartbeat is moved past the takeover time."""
        now = self.clock.now()
        with self.database.unit_of_work() as session:
            lease = session.get(TimerLease, LEASE_NAME)
            if lease is not None and lease.holder == self.holder:
                lease.heartbeat_at = now - self.takeover_after - timedelta(seconds=1)


class RunningTimers(Protocol):
    """What an elector starts when it leads: anything with a ``stop()``."""

    def stop(self) -> None: ...


@dataclass
class Elector:
    """A thread that keeps this process's lease state and starts or stops its timers."""

    lease: LeaseStore
    start_timers: Callable[[], RunningTimers]
    heartbeat_seconds: float = HEARTBEAT_SECONDS
    self_fence_after: timedelta = SELF_FENCE_AFTER
    _timers: RunningTimers | None = field(default=None, init=False)
    _renewed_at: float = field(default=0.0, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    @property
    def role(self) -> str:
        return self.lease.role

    def is_leader(self) -> bool:
        """Whether this process leads now: it holds the lease and renewed it recently."""
        with self._lock:
            return self._timers is not None and self._fresh()

    def _fresh(self) -> bool:
        return time.monotonic() - self._renewed_at < self.self_fence_after.total_seconds()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="timer-elector", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop ticking; a leader stops its timers and releases the lease for a successor."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._stop_timers():
            try:
                self.lease.release()
            except Exception:
                log.warning("could not release the timer lease; it expires by itself")

    def tick_once(self) -> Tick | None:
        """One election step (the thread's body; tests call it directly)."""
        try:
            state = self.lease.tick()
        except Exception:
            log.warning("timer lease check failed; will retry", exc_info=True)
            with self._lock:
                fenced = self._timers is not None and not self._fresh()
            if fenced:
                log.warning("timer lease not renewed for %ss: stopping the timers", self.fence_s)
                self._stop_timers()
            return None
        if state is Tick.LEADING:
            with self._lock:
                self._renewed_at = time.monotonic()
                starting = self._timers is None
            if starting:
                log.warning("timers: this %s process now leads", self.role)
                timers = self.start_timers()
                with self._lock:
                    self._timers = timers
        else:
            if self._stop_timers():
                log.warning("timers: this %s process no longer leads", self.role)
            if state is Tick.STEP_DOWN:
                self.lease.release()
                log.warning("timers: handed the lead back to a scheduler")
        return state

    @property
    def fence_s(self) -> int:
        return int(self.self_fence_after.total_seconds())

    def _stop_timers(self) -> bool:
        with self._lock:
            timers, self._timers = self._timers, None
        if timers is None:
            return False
        timers.stop()
        return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick_once()
            self._stop.wait(self.heartbeat_seconds)
