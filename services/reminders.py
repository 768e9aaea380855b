"""Reminder SMS: the job's batch that queues those now due, and the re-check as each is sent.

Every reminder carries the dedupe key ``reminder:<task id>:<n>``, so a rerun or a second
scheduler never sends one twice; the scheduler (schedules/) owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Select, select
from sqlalchemy.orm import Session

from clinical import calendar
from notifications import outbox, texts
from services.batches import Batch
from services.schedule import OPEN, REMINDED, QuietHours, quiet_hours, reminder_time
from store.dialects import for_update
from store.models import Clinic, OutboxMessage, PatientProfile, User
from store.schedule import Task

REMINDER_PURPOSE = "reminder"
# A late opening reminder (a scheduler that was down) never has its nudge hard on its heels.
NUDGE_MIN_GAP = timedelta(hours=6)
REMINDER_BATCH = 1000


@dataclass(frozen=True, slots=True)
class _Recipient:
    phone: str | None
    reachable: bool
    tz: str
    quiet: QuietHours


def _recipients(session: Session, patient_ids: set[int]) -> dict[int, _Recipient]:
    rows = session.execute(
        select(
            PatientProfile.user_id,
            PatientProfile.timezone,
            PatientProfile.clinic_id,
            User.phone,
            User.sms_opted_out,
            User.is_active,
            User.deleted_at,
        )
        .join(User, User.id == PatientProfile.user_id)
        .where(PatientProfile.user_id.in_(patient_ids))
    ).all()
    clinic_ids = {row.clinic_id for row in rows}
    clinics = {
        c.id: quiet_hours(c)
        for c in session.scalars(select(Clinic).where(Clinic.id.in_(clinic_ids)))
    }
    return {
        row.user_id: _Recipient(
            phone=row.phone,
            reachable=bool(row.phone)
            and not row.sms_opted_out
            and row.is_active
            and row.deleted_at is None,
            tz=row.timezone,
            quiet=clinics.get(row.clinic_id) or quiet_hours(None),
        )
        for row in rows
    }


def _reminder_text(task: Task, *, tz: str, now: datetime) -> str:
    if task.kind == calendar.TASK_MAINTENANCE_SESSION:
        zone = ZoneInfo(tz)
        today = task.due_at.astimezone(zone).date() == now.astimezone(zone).date()
        return texts.next_session_due_today() if today else texts.next_session_due()
    return texts.checkin_reminder()


def due_reminder_query(bind: Session | Engine, *, now: datetime, limit: int) -> Select[Any]:
    """The claim: tasks whose reminder is due, oldest first, through the remind_at index."""
    query = (
        select(Task)
        .where(Task.remind_at <= now, Task.status == OPEN)
        .order_by(Task.remind_at)
        .limit(limit)
    )
    # Rows another scheduler holds are skipped, not waited for.
    return for_update(query, bind, skip_locked=True)


def queue_due_reminders(session: Session, *, now: datetime, limit: int = REMINDER_BATCH) -> Batch:
    """Queue the reminder SMS now due (one batch); ``handled`` counts the tasks advanced.

    Rows are claimed with FOR UPDATE SKIP LOCKED on PostgreSQL, and each SMS carries the
    dedupe key ``reminder:<task id>:<n>``, so a rerun or a second scheduler never sends twice.
    A task that cannot be advanced keeps its row as it was (due again next run) and is named
    in the batch's ``failed``; the others are still queued.
    """
    tasks = list(session.scalars(due_reminder_query(session, now=now, limit=limit)))
    batch = Batch(full=len(tasks) >= limit)
    if not tasks:
        return batch
    recipients = _recipients(session, {t.patient_id for t in tasks})
    outgoing = []
    with session.no_autoflush:
        for task in tasks:
            try:
                sms = _remind(task, recipients.get(task.patient_id), now=now)
            except Exception:
                # Nothing of it is flushed yet: expiring it drops its half-made changes.
                session.expire(task)
                batch.fail(f"task {task.id}")
                continue
            batch.handled += 1
            if sms is not None:
                outgoing.append(sms)
    _enqueue_reminders(session, outgoing, now=now)
    session.flush()
    return batch


@dataclass(frozen=True, slots=True)
class _Reminder:
    to: str
    body: str
    recipient_id: int
    dedupe_key: str


def _remind(task: Task, recipient: _Recipient | None, *, now: datetime) -> _Reminder | None:
    """Advance one claimed task past its due reminder; the SMS to queue, if any."""
    task.updated_at = now
    if recipient is None or task.expires_at <= now or task.kind not in REMINDED:
        task.remind_at = None
        return None
    quiet = recipient.quiet
    if calendar.in_quiet_hours(
        at=now, tz=recipient.tz, quiet_start=quiet.start, quiet_end=quiet.end
    ):
        # Planned outside quiet hours, but the zone or the clinic's hours changed since.
        task.remind_at = calendar.local_send_time(
            due_at=now, tz=recipient.tz, quiet_start=quiet.start, quiet_end=quiet.end
        )
        return None
    step = task.reminder_step
    sms = None
    if recipient.reachable:
        assert recipient.phone is not None
        n = task.reminders_sent
        sms = _Reminder(
            recipient.phone,
            _reminder_text(task, tz=recipient.tz, now=now),
            task.patient_id,
            f"reminder:{task.id}:{n}",
        )
        # Queued now or by an earlier run: either way reminder n exists exactly once.
        task.reminders_sent = n + 1
    task.reminder_step = step + 1
    task.remind_at = reminder_time(
        kind=task.kind,
        step=task.reminder_step,
        due_at=task.due_at,
        expires_at=task.expires_at,
        tz=recipient.tz,
        quiet=quiet,
        earliest=now + NUDGE_MIN_GAP,
    )
    return sms


def _enqueue_reminders(session: Session, outgoing: Sequence[_Reminder], *, now: datetime) -> None:
    """Queue a whole batch at once: one multi-row INSERT keeps a 1,000-reminder pass fast."""
    outbox.enqueue_many(
        session,
        [
            outbox.NewSms(
                to=sms.to,
                body=sms.body,
                purpose=REMINDER_PURPOSE,
                recipient_id=sms.recipient_id,
                dedupe_key=sms.dedupe_key,
            )
            for sms in outgoing
        ],
        now=now,
    )


def reminder_pre_send(
    session: Session, message: OutboxMessage, now: datetime
) -> outbox.Hold | None:
    """Re-check a queued reminder as it is about to be sent (the dispatcher's pre-send check).

    What held when it was queued may not now: a Twilio outage or a backlog can carry it into
    quiet hours, past its task being answered or expiring, or past the patient's STOP. Quiet
    hours defer it to their end (patient's zone); the rest cancel it with the reason.
    """
    task_id = _reminder_task_id(message.dedupe_key)
    task = session.get(Task, task_id) if task_id is not None else None
    patient = (
        session.get(PatientProfile, message.recipient_id)
        if message.recipient_id is not None
        else None
    )
    if patient is None:
        # Not a patient's reminder as this module queues them (nothing to re-check against):
        # sent as queued, since a check must never be the reason a message is lost.
        return None
    user = patient.user
    if user.sms_opted_out:
        return outbox.Hold("opted_out")
    if not user.is_active or user.deleted_at is not None or user.phone != message.to_number:
        return outbox.Hold("recipient_changed")
    if task is not None:
        if task.status != OPEN:
            return outbox.Hold(f"task_{task.status}")
        if task.expires_at <= now:
            return outbox.Hold("task_expired")
    quiet = quiet_hours(session.get(Clinic, patient.clinic_id))
    if not calendar.in_quiet_hours(
        at=now, tz=patient.timezone, quiet_start=quiet.start, quiet_end=quiet.end
    ):
        return None
    until = calendar.local_send_time(
        due_at=now, tz=patient.timezone, quiet_start=quiet.start, quiet_end=quiet.end
    )
    if task is not None and until >= task.expires_at:
        return outbox.Hold("task_expires_in_quiet_hours")
    body = _reminder_text(task, tz=patient.timezone, now=until) if task is not None else None
    return outbox.Hold("quiet_hours", until=until, body=body if body != message.body else None)


def _reminder_task_id(dedupe_key: str | None) -> int | None:
    """The task a reminder is for, from its dedupe key ``reminder:<task id>:<n>``."""
    parts = (dedupe_key or "").split(":")
    if len(parts) == 3 and parts[0] == "reminder" and parts[1].isdigit():
        return int(parts[1])
    return None
