"""Job registry: each job is thin, idempotent through persisted state, and has a fixed id."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from services import escalations, maintenance, schedule
from services.runtime import Runtime

log = logging.getLogger("tandem.scheduler")

OUTBOX_SWEEP = "outbox-sweep"
PURGE = "purge-expired"
ESCALATION_TIMEOUTS = "escalation-timeouts"
DUE_REMINDERS = "due-reminders"
OVERDUE_MAINTENANCE = "overdue-maintenance"
MISSED_TASKS = "missed-tasks"


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


def register_jobs(scheduler: BaseScheduler, rt: Runtime) -> None:
    """Add every job with an explicit id (replacing any of the same id)."""
    common: dict[str, Any] = {"replace_existing": True, "max_instances": 1, "coalesce": True}
    scheduler.add_job(
        _job(OUTBOX_SWEEP, rt.dispatcher.drain),
        "interval",
        seconds=rt.settings.outbox_sweep_seconds,
        id=OUTBOX_SWEEP,
        **common,
    )
    scheduler.add_job(
        _job(PURGE, lambda: maintenance.purge_expired(rt)),
        "interval",
        hours=1,
        id=PURGE,
        **common,
    )
    # Time-outs are minutes long; checking every 15 s keeps a tier's lateness small.
    scheduler.add_job(
        _job(ESCALATION_TIMEOUTS, lambda: escalations.advance_unacknowledged(rt)),
        "interval",
        seconds=15,
        id=ESCALATION_TIMEOUTS,
        **common,
    )
    # Reminders are planned to the minute; the overdue check has days of grace.
    scheduler.add_job(
        _job(DUE_REMINDERS, lambda: schedule.drain_due_reminders(rt)),
        "interval",
        seconds=60,
        id=DUE_REMINDERS,
        **common,
    )
    scheduler.add_job(
        _job(MISSED_TASKS, lambda: schedule.mark_missed(rt)),
        "interval",
        minutes=5,
        id=MISSED_TASKS,
        **common,
    )
    scheduler.add_job(
        _job(OVERDUE_MAINTENANCE, lambda: schedule.check_overdue_maintenance(rt)),
        "interval",
        minutes=15,
        id=OVERDUE_MAINTENANCE,
        **common,
    )


def build_scheduler(rt: Runtime, *, blocking: bool) -> BaseScheduler:
    """A scheduler in UTC with Tandem's jobs."""
    scheduler: BaseScheduler = (
        BlockingScheduler(timezone="UTC") if blocking else BackgroundScheduler(timezone="UTC")
    )
    register_jobs(scheduler, rt)
    return scheduler
