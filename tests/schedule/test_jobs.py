"""The scheduler's schedule jobs: explicit ids, thin, and safe to rerun."""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler

from schedules import runs
from schedules.jobs import DUE_REMINDERS, MISSED_TASKS, OVERDUE_MAINTENANCE, register_jobs
from services.runtime import Runtime
from tests.support.world import World


def test_schedule_jobs_are_registered_with_fixed_ids(rt: Runtime) -> None:
    scheduler = BackgroundScheduler(timezone="UTC")
    register_jobs(scheduler, rt)
    ids = [job.id for job in scheduler.get_jobs()]
    for job_id in (DUE_REMINDERS, MISSED_TASKS, OVERDUE_MAINTENANCE):
        assert ids.count(job_id) == 1
    assert {DUE_REMINDERS, MISSED_TASKS, OVERDUE_MAINTENANCE} == {
        "due-reminders",
        "missed-tasks",
        "overdue-maintenance",
    }


def test_jobs_on_an_empty_calendar_do_nothing(rt: Runtime, world: World) -> None:
    assert runs.due_reminders(rt) == 0
    assert runs.missed_tasks(rt) == 0
    assert runs.overdue_maintenance(rt) == 0
