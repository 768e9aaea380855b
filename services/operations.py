"""What an operator needs to know: readiness checks and the database-backed gauges.

``/readyz``, ``tandem status`` and ``/metrics`` all read these, so they never disagree.
Readiness is a table of named checks (:data:`CHECKS`); each returns a state, and a state
outside :data:`HEALTHY_STATES` fails the check. Another check is one more entry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from clinical.vocabulary import Priority
from notifications import outbox
from services.runtime import Runtime
from store.escalations import Escalation, Status
from store.models import JobRun, OutboxMessage, TimerLease
from store.types import UTCDateTime

log = logging.getLogger("tandem.operations")

# Roles of the timer lease's holder (schedules/leader.py writes them).
SCHEDULER_ROLE = "scheduler"
API_ROLE = "api"
TIMER_LEASE = "timers"
# "failing": no timer leader's heartbeat for this long.
SCHEDULER_FAILING_AFTER = timedelta(seconds=60)
# "failing": the oldest due outbox row has waited longer than this.
OUTBOX_FAILING_AFTER = timedelta(seconds=120)

OK = "ok"
TAKEOVER = "takeover"
FAILING = "failing"
# A takeover is reported, not failed: paging goes on.
HEALTHY_STATES = frozenset({OK, TAKEOVER})

Check = Callable[[Runtime, Session, datetime, bool], str]


def database_check(_rt: Runtime, session: Session, _now: datetime, _grace: bool) -> str:
    session.execute(select(1))
    return OK


def scheduler_check(rt: Runtime, session: Session, now: datetime, grace: bool) -> str:
    """ "ok" a scheduler leads, "takeover" an API process does, "failing" nobody for 60 s."""
    lease = session.get(TimerLease, TIMER_LEASE)
    if lease is None or lease.heartbeat_at < now - SCHEDULER_FAILING_AFTER:
        # A process up for less than 60 s has not yet seen 60 s without a heartbeat.
        if grace and time.monotonic() - rt.started < SCHEDULER_FAILING_AFTER.total_seconds():
            return OK if lease is None or lease.role == SCHEDULER_ROLE else TAKEOVER
        return FAILING
    return OK if lease.role == SCHEDULER_ROLE else TAKEOVER


def outbox_check(_rt: Runtime, session: Session, now: datetime, _grace: bool) -> str:
    _pending, oldest = outbox_backlog(session, now)
    return FAILING if oldest > OUTBOX_FAILING_AFTER.total_seconds() else OK


UNREACHABLE = "unreachable"


def paging_check(_rt: Runtime, session: Session, _now: datetime, _grace: bool) -> str:
    """ "unreachable" while an open paged escalation has nobody on its chain to text."""
    from services.escalations import unreachable_clinics

    return UNREACHABLE if unreachable_clinics(session) else OK


# Named checks, in order; the first (the database) gates the others.
CHECKS: dict[str, Check] = {
    "database": database_check,
    "scheduler": scheduler_check,
    "outbox": outbox_check,
    "paging": paging_check,
}


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str]

    @property
    def failing(self) -> list[str]:
        return [name for name, state in self.checks.items() if state not in HEALTHY_STATES]

    @property
    def takeover(self) -> bool:
        return self.checks.get("scheduler") == TAKEOVER

    @property
    def ready(self) -> bool:
        return not self.failing


def readiness(rt: Runtime, *, grace: bool = True) -> Readiness:
    """Run every check; one that raises is failing (and the database gates the rest).

    ``grace``: a process that started less than 60 s ago does not yet call a missing
    heartbeat failing (``/readyz`` of a new worker); ``tandem status`` passes False.
    """
    now = rt.clock.now()
    checks: dict[str, str] = {}
    try:
        session = rt.database.session()
    except Exception:
        return Readiness({name: FAILING for name in CHECKS})
    try:
        for name, check in CHECKS.items():
            if checks.get("database") == FAILING:
                checks[name] = FAILING
                continue
            try:
                checks[name] = check(rt, session, now, grace)
            except Exception:
                log.warning("readiness check %s could not run", name, exc_info=True)
                session.rollback()
                checks[name] = FAILING
    finally:
        try:
            session.rollback()
            session.close()
        except Exception:
            log.warning("readiness session did not close cleanly", exc_info=True)
    return Readiness(checks)


def outbox_backlog(session: Session, now: datetime) -> tuple[int, float]:
    """Rows not yet sent or failed, and how long the oldest due one has waited (seconds).

    A row waits from when it fell due (``next_attempt_at``) while untried, and from its
    creation once tried: a message retrying through a Twilio outage keeps ageing however
    its back-off moves ``next_attempt_at``. Rows planned for later (quiet hours) are not due.
    """
    pending = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status.in_([outbox.PENDING, outbox.SENDING]))
    )
    since = case(
        (OutboxMessage.attempts == 0, OutboxMessage.next_attempt_at),
        else_=OutboxMessage.created_at,
    )
    oldest = session.scalar(
        select(func.min(since, type_=UTCDateTime())).where(
            OutboxMessage.status.in_([outbox.PENDING, outbox.SENDING]),
            or_(OutboxMessage.attempts > 0, OutboxMessage.next_attempt_at <= now),
        )
    )
    return int(pending or 0), _age(now, oldest)


def unacknowledged(session: Session, now: datetime) -> dict[str, tuple[int, float]]:
    """Per priority: open (unacknowledged) escalations and the oldest one's age (seconds)."""
    rows = session.execute(
        select(
            Escalation.priority,
            func.count(),
            func.min(Escalation.created_at, type_=UTCDateTime()),
        )
        .where(Escalation.status == Status.OPEN)
        .group_by(Escalation.priority)
    ).all()
    found = {priority: (int(count), _age(now, oldest)) for priority, count, oldest in rows}
    for priority in Priority:
        found.setdefault(priority, (0, 0.0))
    return found


def job_successes(session: Session) -> dict[str, datetime]:
    return {job: at for job, at in session.execute(select(JobRun.job, JobRun.last_success_at))}


def timer_lease(session: Session) -> TimerLease | None:
    """The timer lease row, if any process ever led."""
    return session.get(TimerLease, TIMER_LEASE)


def _age(now: datetime, then: datetime | None) -> float:
    if then is None:
        return 0.0
    return max(0.0, (now - then).total_seconds())


__all__ = [
    "CHECKS",
    "HEALTHY_STATES",
    "Readiness",
    "outbox_backlog",
    "readiness",
    "unacknowledged",
]
