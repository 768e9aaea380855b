"""Job registry: each job is thin, idempotent through persisted state, and has a fixed id."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from schedules import runs
from schedules.escalations import advance_unacknowledged
from services.runtime import Runtime

log = logging.getLogger("tandem.scheduler")

OUTBOX_SWEEP = "outbox-sweep"
PURGE = "purge-expired"
ESCALATION_TIMEOUTS = "escalation-timeouts"
DUE_REMINDERS = "due-reminders"
OVERDUE_MAINTENANCE = "overdue-maintenance"
MISSED_TASKS = "missed-tasks"
CLINICAL_TIMERS = "clinical-timers"


def _job(
    name: str,
    work: Callable[[], Any],
    rt: Runtime | None = None,
    leads: Callable[[], bool] | None = None,
) -> Callable[[], None]:
    """Run ``work``; a failure is logged with its job and raised, so APScheduler records it.

    ``leads`` is the elector's check: a process that lost the lead (or could not renew it)
    skips the run instead of racing the new leader. Each success is recorded in
    ``job_runs`` so /metrics shows it whichever process ran it.
    """

    def run() -> None:
        if leads is not None and not leads():
            log.info("job %s skipped: this process does not lead the timers", name)
            return
        try:
            result = work()
        except Exception:
            log.exception("job %s failed; its rows stay due for the next run", name)
            raise
        if result:
            log.info("job %s: %s", name, result)
        if rt is not None:
            record_success(rt, name)

    run.__name__ = run.__qualname__ = name
    return run


def record_success(rt: Runtime, job: str) -> None:
    """Upsert the job's last success; a failure here never fails the job itself."""
    from store.models import JobRun

    try:
        with rt.database.unit_of_work() as session:
            row = session.get(JobRun, job)
            now = rt.clock.now()
            if row is None:
                session.add(JobRun(job=job, last_success_at=now, holder=_HOLDER[0]))
            else:
                row.last_success_at = now
                row.holder = _HOLDER[0]
    except Exception:
        log.warning("could not record the success of job %s", job, exc_info=True)


# The lease holder's name in this process, for job_runs (set by the elector's starter).
_HOLDER = ["?"]


def job_table(rt: Runtime) -> list[tuple[str, Callable[[], Any], dict[str, int]]]:
    """Every job: its fixed id, its work, and its interval."""
    return [
        (OUTBOX_SWEEP, rt.dispatcher.sweep, {"seconds": rt.settings.outbox_sweep_seconds}),
        (PURGE, lambda: runs.purge(rt), {"hours": 1}),
        # Time-outs are minutes long; checking every 15 s keeps a tier's lateness small.
        (ESCALATION_TIMEOUTS, lambda: advance_unacknowledged(rt), {"seconds": 15}),
        # Reminders are planned to the minute; the overdue check has days of grace.
        (DUE_REMINDERS, lambda: runs.due_reminders(rt), {"seconds": 60}),
        (MISSED_TASKS, lambda: runs.missed_tasks(rt), {"minutes": 5}),
        (OVERDUE_MAINTENANCE, lambda: runs.overdue_maintenance(rt), {"minutes": 15}),
        # A live reading is late after 20 minutes: a minute's resolution keeps the text timely.
        (CLINICAL_TIMERS, lambda: runs.clinical_timers(rt), {"seconds": 60}),
    ]


def register_jobs(
    scheduler: BaseScheduler, rt: Runtime, leads: Callable[[], bool] | None = None
) -> None:
    """Add every job with an explicit id and name (replacing any of the same id).

    Under an elector (``leads`` given) every job runs once at once: a new leader may be
    taking over from a dead one, and tiers that fell due meanwhile must not wait another
    interval.
    """
    first_run = {"next_run_time": datetime.now(UTC)} if leads is not None else {}
    for job_id, work, interval in job_table(rt):
        scheduler.add_job(
            _job(job_id, work, rt, leads),
            "interval",
            id=job_id,
            name=job_id,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            # However late a run starts (a new leader's first run, a stalled process), it
            # runs once rather than being dropped as a misfire (the default grace is 1 s).
            misfire_grace_time=None,
            **first_run,
            **interval,
        )


def build_scheduler(
    rt: Runtime, *, blocking: bool, leads: Callable[[], bool] | None = None
) -> BaseScheduler:
    """A scheduler in UTC with Tandem's jobs."""
    scheduler: BaseScheduler = (
        BlockingScheduler(timezone="UTC") if blocking else BackgroundScheduler(timezone="UTC")
    )
    register_jobs(scheduler, rt, leads)
    return scheduler


class _Timers:
    """A running BackgroundScheduler, stopped when this process loses the lead."""

    def __init__(self, scheduler: BaseScheduler) -> None:
        self.scheduler = scheduler

    def stop(self) -> None:
        # Wait for a running job to finish, so no job of the old leader overlaps the new.
        self.scheduler.shutdown(wait=True)


class Background:
    """A process's safety-path threads: the outbox dispatcher and the timer elector.

    Every Tandem process drains the outbox (SKIP LOCKED keeps them apart), so a page
    committed by an API worker leaves from that worker at once, whoever leads the timers.
    The timers run only where the elector leads. ``role`` is ``"scheduler"`` for
    ``tandem scheduler`` and ``tandem run`` and ``"api"`` for gunicorn workers.
    """

    def __init__(self, rt: Runtime, *, role: str, elect: bool | None = None) -> None:
        from notifications.outbox import DispatcherWorker
        from schedules.leader import Elector, LeaseStore, holder_id

        self.rt = rt
        self.worker = DispatcherWorker(
            rt.dispatcher, sweep_seconds=rt.settings.outbox_sweep_seconds
        )
        self.elector: Elector | None = None
        if rt.settings.scheduler_enabled if elect is None else elect:
            holder = holder_id(role)
            self.elector = Elector(
                LeaseStore(rt.database, rt.clock, role=role, holder=holder),
                start_timers=self._start_timers,
            )
            _HOLDER[0] = holder

    def _start_timers(self) -> _Timers:
        assert self.elector is not None
        scheduler = build_scheduler(self.rt, blocking=False, leads=self.elector.is_leader)
        scheduler.start()
        return _Timers(scheduler)

    def start(self) -> None:
        self.worker.start()
        if self.elector is not None:
            self.elector.start()

    def stop(self) -> None:
        if self.elector is not None:
            self.elector.stop()
        self.worker.stop()
