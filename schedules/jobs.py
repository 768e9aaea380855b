"""Job registry: each job is thin, idempotent through persisted state, and has a fixed id."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from services import clinical_timers, escalations, maintenance, schedule
from services.runtime import Runtime

log = logging.getLogger("tandem.scheduler")

OUTBOX_SWEEP = "outbox-sweep"
PURGE = "purge-expired"
ESCALATION_TIMEOUTS = "escalation-timeouts"
DUE_REMINDERS = "due-reminders"
OVERDUE_MAINTENANCE = "overdue-maintenance"
MISSED_TASKS = "missed-tasks"
CLINICAL_TIMERS = "clinical-timers"


def _job(name: str, work: Callable[[], Any]) -> Callable[[], None]:
    """Run ``work``; a failure is logged with its job and raised, so APScheduler records it."""

    def run() -> None:
        try:
            result = work()
        except Exception:
            log.exception("job %s failed; its rows stay due for the next run", name)
            raise
        if result:
            log.info("job %s: %s", name, result)

    return run


def job_table(rt: Runtime) -> list[tuple[str, Callable[[], Any], dict[str, int]]]:
    """Every job: its fixed id, its work, and its interval."""
    return [
        (OUTBOX_SWEEP, rt.dispatcher.sweep, {"seconds": rt.settings.outbox_sweep_seconds}),
        (PURGE, lambda: maintenance.purge_expired(rt), {"hours": 1}),
        # Time-outs are minutes long; checking every 15 s keeps a tier's lateness small.
        (ESCALATION_TIMEOUTS, lambda: escalations.advance_unacknowledged(rt), {"seconds": 15}),
        # Reminders are planned to the minute; the overdue check has days of grace.
        (DUE_REMINDERS, lambda: schedule.drain_due_reminders(rt), {"seconds": 60}),
        (MISSED_TASKS, lambda: schedule.mark_missed(rt), {"minutes": 5}),
        (OVERDUE_MAINTENANCE, lambda: schedule.check_overdue_maintenance(rt), {"minutes": 15}),
        # A live reading is late after 20 minutes: a minute's resolution keeps the text timely.
        (CLINICAL_TIMERS, lambda: clinical_timers.run_clinical_timers(rt), {"seconds": 60}),
    ]


def register_jobs(scheduler: BaseScheduler, rt: Runtime) -> None:
    """Add every job with an explicit id (replacing any of the same id)."""
    for job_id, work, interval in job_table(rt):
        scheduler.add_job(
            _job(job_id, work),
            "interval",
            id=job_id,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            **interval,
        )


def build_scheduler(rt: Runtime, *, blocking: bool) -> BaseScheduler:
    """A scheduler in UTC with Tandem's jobs."""
    scheduler: BaseScheduler = (
        BlockingScheduler(timezone="UTC") if blocking else BackgroundScheduler(timezone="UTC")
    )
    register_jobs(scheduler, rt)
    return scheduler
