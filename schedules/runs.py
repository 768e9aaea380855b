"""Each timer job's run: its units of work and its batches, as a view's request is for a view.

Services take the session and ``now``; a run opens the transaction, commits each batch, and
ends as a failed run (``BatchFailed``) when any item of a batch failed, after finishing that
batch: the items that could be handled are committed, the failed ones stay due, and
APScheduler and ``job_runs`` (no new success) see the failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial

from sqlalchemy.orm import Session

from services import maintenance, overdue, reminders, sessions
from services.batches import Batch
from services.clinical_timers import check_acute_pace, check_item9_reasks
from services.runtime import Runtime

log = logging.getLogger("tandem.scheduler")

# A reminder backlog is drained in batches this many at the most, each its own transaction.
MAX_REMINDER_BATCHES = 50


class BatchFailed(RuntimeError):
    """Some items of a job's run could not be handled (each logged with its id)."""

    def __init__(self, job: str, failed: Sequence[str]) -> None:
        shown = ", ".join(failed[:20]) + (", ..." if len(failed) > 20 else "")
        super().__init__(f"{job}: {len(failed)} item(s) failed: {shown}")
        self.failed = list(failed)


def _batch(rt: Runtime, work: Callable[[Session], Batch]) -> Batch:
    """One batch in one unit of work: committed whether or not some of its items failed."""
    with rt.database.unit_of_work() as session:
        return work(session)


def reminder_batch(rt: Runtime, *, limit: int = reminders.REMINDER_BATCH) -> int:
    """Queue one batch of due reminders; the tasks handled."""
    batch = _batch(rt, partial(reminders.queue_due_reminders, now=rt.clock.now(), limit=limit))
    if batch.failed:
        raise BatchFailed("due-reminders", batch.failed)
    return batch.handled


def due_reminders(rt: Runtime, *, max_batches: int = MAX_REMINDER_BATCHES) -> int:
    """Run reminder batches until one is not full (or one had a failure); the tasks handled."""
    handled = 0
    for _ in range(max_batches):
        batch = _batch(rt, partial(reminders.queue_due_reminders, now=rt.clock.now()))
        handled += batch.handled
        if batch.failed:
            # The failed tasks are still due: another batch now would only claim them again.
            raise BatchFailed("due-reminders", batch.failed)
        if not batch.full:
            break
    return handled


def missed_tasks(rt: Runtime) -> int:
    """Open tasks past their expiry become missed."""
    with rt.database.unit_of_work() as session:
        return overdue.mark_missed(session, now=rt.clock.now())


def overdue_maintenance(rt: Runtime) -> int:
    """One batch of missed maintenance due times escalated; the escalations raised."""
    batch = _batch(rt, partial(overdue.check_overdue_maintenance, now=rt.clock.now()))
    if batch.failed:
        raise BatchFailed("overdue-maintenance", batch.failed)
    return batch.handled


def purge(rt: Runtime) -> dict[str, int]:
    """Forget expired idempotency keys, login sessions and old failure counts."""
    with rt.database.unit_of_work() as session:
        return maintenance.purge_expired(session, now=rt.clock.now())


CLINICAL_CHECKS: dict[str, Callable[..., Batch]] = {
    "readings_overdue": sessions.check_overdue_readings,
    "acute_sessions_missed": check_acute_pace,
    "item9_reasks_unanswered": check_item9_reasks,
}


def clinical_timers(rt: Runtime) -> dict[str, int]:
    """Every clinical timer once, each its own batch; what each raised (for the log line).

    A check that fails as a whole does not keep the others from running; the run fails at
    the end naming every item (or check) that failed.
    """
    raised: dict[str, int] = {}
    failed: list[str] = []
    for name, check in CLINICAL_CHECKS.items():
        try:
            batch = _batch(rt, partial(check, now=rt.clock.now()))
        except Exception:
            log.exception("clinical timer %s failed; what it checks stays due", name)
            failed.append(name)
            continue
        raised[name] = batch.handled
        failed.extend(f"{name}: {item}" for item in batch.failed)
    if failed:
        raise BatchFailed("clinical-timers", failed)
    return raised
