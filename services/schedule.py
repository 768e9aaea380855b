"""The protocol's calendar made concrete: task rows, reminders, missed tasks, overdue maintenance.

`clinical.calendar.plan` says what a patient should be asked and when; `replan_patient` keeps
one Task row per plan key in step with it. Jobs then work from those rows alone (what is due
is rows, never process memory), so a restart or a second scheduler neither loses nor repeats
a reminder: every reminder SMS carries the dedupe key ``reminder:<task id>:<n>``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from clinical import calendar, rules
from notifications import outbox, texts
from services import audit, escalations
from services.clinics import DEFAULT_POLICY, effective_policy
from services.errors import Invalid, NotFound
from store.locks import lock_patient
from store.models import Clinic, OutboxMessage, PatientProfile, User
from store.schedule import MaintenanceOverdueFlag, Task, TreatmentSession

if TYPE_CHECKING:
    from services.runtime import Runtime

log = logging.getLogger("tandem.schedule")

OPEN = "open"
DONE = "done"
MISSED = "missed"
CANCELLED = "cancelled"

REMINDER_PURPOSE = "reminder"
# PHQ-9 item 9 asked alone, after a check-in skipped it (rules-2); answered at
# POST /api/v1/checkins/phq9-item9.
TASK_ITEM9 = "phq9_item9"
# Tasks the rules open outside the calendar's plan; re-planning leaves them alone.
RECHECK_PREFIX = "relapse_recheck:"
ITEM9_PREFIX = "item9_reask:"
# The pre-treatment PHQ-9: open from enrolment until the first session starts.
PRE_TREATMENT_KEY = "pre_treatment:phq9"
PRE_TREATMENT_OPEN = timedelta(days=90)
ADHOC_PREFIXES = (RECHECK_PREFIX, ITEM9_PREFIX, PRE_TREATMENT_KEY)
RECHECK_WINDOW = timedelta(hours=48)
ITEM9_WINDOW = timedelta(hours=24)
# What the app asks the patient (GET /me/tasks); a maintenance session is booked with the clinic.
ANSWERABLE = (calendar.TASK_PHQ9, calendar.TASK_SYMPTOM_REPORT, calendar.TASK_ASRM, TASK_ITEM9)
# What earns a reminder SMS. The ASRM is asked alongside a PHQ-9 that has its own reminder,
# so it gets none: one text per thing to do, not one per questionnaire.
REMINDED = (
    calendar.TASK_PHQ9,
    calendar.TASK_SYMPTOM_REPORT,
    calendar.TASK_MAINTENANCE_SESSION,
    TASK_ITEM9,
)

OPENING, NUDGE, NO_MORE = 0, 1, 2
# A late opening reminder (a scheduler that was down) never has its nudge hard on its heels.
NUDGE_MIN_GAP = timedelta(hours=6)
REMINDER_BATCH = 1000
OVERDUE_BATCH = 500
# The calendar's single "next maintenance session" becomes one row per last session, so a
# new session fulfils the row (done) and the next due time starts a fresh row and reminders.
MAINTENANCE_KEY = "maintenance:after:{session_id}"


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: time
    end: time


def quiet_hours(clinic: Clinic | None) -> QuietHours:
    """The clinic's quiet hours for patient reminders (policy defaults fill gaps)."""
    window = effective_policy(clinic.escalation_policy if clinic else None)["quiet_hours"]
    try:
        return QuietHours(time.fromisoformat(window["start"]), time.fromisoformat(window["end"]))
    except (TypeError, ValueError, KeyError):
        # Saved policies are validated; an unusable one must still never text at night.
        log.error(
            "clinic %s has unusable quiet hours %r; using defaults",
            clinic.id if clinic else None,
            window,
        )
        default = DEFAULT_POLICY["quiet_hours"]
        return QuietHours(time.fromisoformat(default["start"]), time.fromisoformat(default["end"]))


def reminder_time(
    *,
    kind: str,
    step: int,
    due_at: datetime,
    expires_at: datetime,
    tz: str,
    quiet: QuietHours,
    earliest: datetime,
) -> datetime | None:
    """When reminder ``step`` of a task goes out (UTC), or None when it has none left.

    Check-ins: the opening reminder at the due time, the nudge 24 hours later. Maintenance:
    09:00 local on the due day, then 09:00 the next day. Never before ``earliest``, never in
    quiet hours (patient's zone), never at or after the task's expiry.
    """
    if kind not in REMINDED or step >= NO_MORE:
        return None
    if kind == calendar.TASK_MAINTENANCE_SESSION:
        day = due_at.astimezone(ZoneInfo(tz)).date() + timedelta(days=step)
        base = calendar.maintenance_reminder_at(due_date_local=day, tz=tz)
    else:
        base = due_at + calendar.NUDGE_AFTER * step
    at = calendar.local_send_time(
        due_at=max(base, earliest), tz=tz, quiet_start=quiet.start, quiet_end=quiet.end
    )
    return at if at < expires_at else None


# --- Planning ---------------------------------------------------------------------------------


def _session_records(session: Session, patient_id: int) -> list[calendar.SessionRecord]:
    rows = session.execute(
        select(TreatmentSession.id, TreatmentSession.started_at)
        .where(TreatmentSession.patient_id == patient_id)
        .order_by(TreatmentSession.started_at, TreatmentSession.id)
    ).all()
    return [calendar.SessionRecord(row.id, row.started_at) for row in rows]


def _materialised_key(task: calendar.PlannedTask, records: Sequence[calendar.SessionRecord]) -> str:
    if task.kind == calendar.TASK_MAINTENANCE_SESSION:
        return MAINTENANCE_KEY.format(session_id=records[-1].id)
    return task.key


def replan_patient(session: Session, *, patient: PatientProfile, now: datetime) -> None:
    """Bring the patient's Task rows, phase and maintenance due time in line with the calendar.

    New plan keys become open tasks (unless already expired); open tasks follow their plan's
    due and expiry; open tasks the plan dropped are cancelled (a maintenance session that a
    newer session fulfilled is done). Done, missed and cancelled tasks are never reopened.
    """
    lock_patient(session, patient)
    clinic = session.get(Clinic, patient.clinic_id)
    quiet = quiet_hours(clinic)
    records = _session_records(session, patient.user_id)
    # A session recorded a few minutes ahead of this clock (allowed skew) counts at once.
    horizon = max([now, *(r.started_at for r in records)])
    planned = calendar.plan(
        enrolled_at=patient.enrolled_at,
        sessions=records,
        interval_days=patient.maintenance_interval_days,
        bipolar=patient.bipolar,
        acute_target=patient.acute_target_sessions,
        phase_override=patient.phase_override,
        now=horizon,
    )
    patient.phase = calendar.phase(
        enrolled_at=patient.enrolled_at,
        sessions=records,
        acute_target=patient.acute_target_sessions,
        declared_phase=patient.phase_override,
        now=horizon,
    )
    maintenance = [p for p in planned if p.kind == calendar.TASK_MAINTENANCE_SESSION]
    patient.maintenance_due_at = maintenance[0].due_at if maintenance else None

    existing = {
        t.key: t for t in session.scalars(select(Task).where(Task.patient_id == patient.user_id))
    }
    wanted: set[str] = set()
    for planned_task in planned:
        key = _materialised_key(planned_task, records)
        wanted.add(key)
        task = existing.get(key)
        if task is None:
            if planned_task.expires_at > now:
                session.add(_new_task(patient, key, planned_task, quiet=quiet, now=now))
        elif task.status == OPEN:
            _follow_plan(task, planned_task, tz=patient.timezone, quiet=quiet, now=now)

    pre_treatment = existing.get(PRE_TREATMENT_KEY)
    if pre_treatment is not None and pre_treatment.status == OPEN and records:
        # Treatment has started: the pre-treatment PHQ-9 can no longer be a baseline.
        first = records[0].started_at
        pre_treatment.expires_at = min(pre_treatment.expires_at, first)
        pre_treatment.remind_at = None
        pre_treatment.updated_at = now
        if pre_treatment.expires_at <= now:
            pre_treatment.status = MISSED
    for key, task in existing.items():
        if key in wanted or task.status != OPEN or key.startswith(ADHOC_PREFIXES):
            continue
        fulfilled = task.kind == calendar.TASK_MAINTENANCE_SESSION and bool(maintenance)
        task.status = DONE if fulfilled else CANCELLED
        task.completed_at = now if fulfilled else None
        task.remind_at = None
        task.updated_at = now
    session.flush()


def _new_task(
    patient: PatientProfile,
    key: str,
    planned: calendar.PlannedTask,
    *,
    quiet: QuietHours,
    now: datetime,
) -> Task:
    return Task(
        patient_id=patient.user_id,
        clinic_id=patient.clinic_id,
        key=key,
        kind=planned.kind,
        session_id=planned.session_id,
        reason=planned.reason,
        due_at=planned.due_at,
        expires_at=planned.expires_at,
        status=OPEN,
        remind_at=reminder_time(
            kind=planned.kind,
            step=OPENING,
            due_at=planned.due_at,
            expires_at=planned.expires_at,
            tz=patient.timezone,
            quiet=quiet,
            earliest=now,
        ),
        reminders_sent=0,
        reminder_step=OPENING,
        created_at=now,
        updated_at=now,
    )


def _follow_plan(
    task: Task, planned: calendar.PlannedTask, *, tz: str, quiet: QuietHours, now: datetime
) -> None:
    """Move an open task to its plan's times; a moved due time restarts its reminders."""
    due_moved = task.due_at != planned.due_at
    expiry_moved = task.expires_at != planned.expires_at
    task.reason = planned.reason
    task.session_id = planned.session_id
    if not due_moved and not expiry_moved:
        return
    task.due_at, task.expires_at = planned.due_at, planned.expires_at
    if due_moved:
        task.reminder_step = OPENING
        earliest = now
    else:
        # Keep a pending reminder where it was unless the new expiry cuts it off.
        earliest = max(now, task.remind_at) if task.remind_at is not None else now
    task.remind_at = reminder_time(
        kind=task.kind,
        step=task.reminder_step,
        due_at=task.due_at,
        expires_at=task.expires_at,
        tz=tz,
        quiet=quiet,
        earliest=earliest,
    )
    task.updated_at = now


# --- The patient's tasks ------------------------------------------------------------------------


def list_due_tasks(
    session: Session, *, patient_id: int, now: datetime, viewer: User | None = None
) -> list[Task]:
    """Open tasks the app should ask now (due, not yet expired), soonest first (audited).

    The reader is the patient themselves unless `viewer` says otherwise.
    """
    actor = viewer or session.get(User, patient_id)
    if actor is not None:
        audit.record_reads(session, actor=actor, what="tasks", patient_ids=[patient_id], now=now)
    return list(
        session.scalars(
            select(Task)
            .where(
                Task.patient_id == patient_id,
                Task.status == OPEN,
                Task.kind.in_(ANSWERABLE),
                Task.due_at <= now,
                Task.expires_at > now,
            )
            .order_by(Task.due_at, Task.id)
        )
    )


def complete_task(
    session: Session,
    *,
    patient_id: int,
    task_id: int,
    kind: str,
    now: datetime,
    also: Sequence[str] = (),
) -> None:
    """Close the patient's task answered by a submission of ``kind`` (answering ``also`` too).

    404 when it is not this patient's task; 422 when it asks for something the submission
    does not answer. A task that is already closed (answered twice, expired, cancelled) is
    left as it is: the answer itself is what matters and is stored by the caller.

    ``also`` names the other tasks one submission answers: a PHQ-9 carrying the five ASRM
    items answers the ASRM mood check planned beside it. Either task's id may be given, and
    the due sibling of the same plan step (``<step>:phq9`` / ``<step>:asrm``) closes with it,
    so the app asks one screen and both tasks are done.
    """
    task = session.get(Task, task_id)
    if task is None or task.patient_id != patient_id:
        raise NotFound("No such task.")
    answered = {kind, *also}
    if task.kind not in answered:
        hint = (
            " Send the five `asrm` answers with a PHQ-9 check-in (or a post-session report)."
            if task.kind == calendar.TASK_ASRM
            else ""
        )
        raise Invalid({"task_id": [f"This task asks for a {task.kind}, not a {kind}.{hint}"]})
    if task.status == OPEN:
        _close(task, now=now)
    step = task.key.rsplit(":", 1)[0] + ":"
    siblings = session.scalars(
        select(Task).where(
            Task.patient_id == patient_id,
            Task.id != task.id,
            Task.status == OPEN,
            Task.kind.in_(sorted(answered)),
            Task.key.startswith(step, autoescape=True),
            Task.due_at <= now,
        )
    )
    for sibling in siblings:
        _close(sibling, now=now)


def _close(task: Task, *, now: datetime) -> None:
    task.status = DONE
    task.completed_at = now
    task.remind_at = None
    task.updated_at = now


def open_adhoc_task(
    session: Session,
    *,
    patient: PatientProfile,
    key: str,
    kind: str,
    reason: str,
    due_at: datetime,
    window: timedelta,
    now: datetime,
    remind: bool = True,
) -> Task:
    """Open a task the rules asked for (a relapse re-check, an item 9 re-ask) outside the plan."""
    clinic = session.get(Clinic, patient.clinic_id)
    planned = calendar.PlannedTask(key, kind, due_at, due_at + window, None, reason)
    task = _new_task(patient, key, planned, quiet=quiet_hours(clinic), now=now)
    if not remind:
        task.remind_at = None
    session.add(task)
    session.flush()
    return task


def open_pre_treatment_task(session: Session, *, patient: PatientProfile, now: datetime) -> Task:
    """The pre-treatment PHQ-9, asked in the app from enrolment (its baseline).

    No reminder SMS: the activation text is the patient's first message, and a second one the
    same day would be noise; the task waits in the app until the first session starts.
    """
    return open_adhoc_task(
        session,
        patient=patient,
        key=PRE_TREATMENT_KEY,
        kind=calendar.TASK_PHQ9,
        reason="PHQ-9 before treatment starts",
        due_at=patient.enrolled_at,
        window=PRE_TREATMENT_OPEN,
        now=now,
        remind=False,
    )


def close_open_tasks(session: Session, *, patient_id: int, key_prefix: str, now: datetime) -> int:
    """Mark the patient's open tasks whose key starts with `key_prefix` done (answered)."""
    result = session.execute(
        update(Task)
        .where(
            Task.patient_id == patient_id,
            Task.status == OPEN,
            Task.key.startswith(key_prefix, autoescape=True),
        )
        .values(status=DONE, completed_at=now, remind_at=None, updated_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- Jobs ---------------------------------------------------------------------------------------


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


def due_reminder_query(*, now: datetime, limit: int, dialect: str) -> Select[Any]:
    """The claim: tasks whose reminder is due, oldest first, through the remind_at index."""
    query = (
        select(Task)
        .where(Task.remind_at <= now, Task.status == OPEN)
        .order_by(Task.remind_at)
        .limit(limit)
    )
    if dialect == "postgresql":
        # Rows another scheduler holds are skipped, not waited for.
        query = query.with_for_update(skip_locked=True)
    return query


def queue_due_reminders(rt: Runtime, *, limit: int = REMINDER_BATCH) -> int:
    """Queue the reminder SMS now due (one batch, one transaction); returns the tasks handled.

    Rows are claimed with FOR UPDATE SKIP LOCKED on PostgreSQL, and each SMS carries the
    dedupe key ``reminder:<task id>:<n>``, so a rerun or a second scheduler never sends twice.
    """
    now = rt.clock.now()
    with rt.database.unit_of_work() as session:
        query = due_reminder_query(now=now, limit=limit, dialect=session.get_bind().dialect.name)
        tasks = list(session.scalars(query))
        if not tasks:
            return 0
        recipients = _recipients(session, {t.patient_id for t in tasks})
        with session.no_autoflush:
            outgoing = [
                sms
                for task in tasks
                if (sms := _remind(task, recipients.get(task.patient_id), now=now)) is not None
            ]
        _enqueue_reminders(session, outgoing, now=now)
        session.flush()
        return len(tasks)


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


def drain_due_reminders(rt: Runtime, *, max_batches: int = 50) -> int:
    """Run reminder batches until none is full (each batch its own transaction)."""
    handled = 0
    for _ in range(max_batches):
        batch = queue_due_reminders(rt)
        handled += batch
        if batch < REMINDER_BATCH:
            break
    return handled


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


def mark_missed(rt: Runtime) -> int:
    """Open tasks past their expiry become missed, and are never reminded again."""
    now = rt.clock.now()
    with rt.database.unit_of_work() as session:
        result = session.execute(
            update(Task)
            .where(Task.status == OPEN, Task.expires_at <= now)
            .values(status=MISSED, remind_at=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def check_overdue_maintenance(rt: Runtime, *, limit: int = OVERDUE_BATCH) -> int:
    """Raise a routine maintenance_overdue escalation once per missed maintenance due time.

    Candidates come from the indexed ``maintenance_due_at`` (cost follows the patients past
    due, not all patients); a new session moves the due time, so "no later session" holds.
    """
    now = rt.clock.now()
    raised = 0
    with rt.database.unit_of_work() as session:
        query = (
            select(PatientProfile)
            .outerjoin(
                MaintenanceOverdueFlag,
                and_(
                    MaintenanceOverdueFlag.patient_id == PatientProfile.user_id,
                    MaintenanceOverdueFlag.due_at == PatientProfile.maintenance_due_at,
                ),
            )
            .where(PatientProfile.maintenance_due_at <= now, MaintenanceOverdueFlag.id.is_(None))
            .order_by(PatientProfile.maintenance_due_at)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=PatientProfile)
        for patient in session.scalars(query):
            if _flag_if_overdue(session, patient, now=now):
                raised += 1
    return raised


def _flag_if_overdue(session: Session, patient: PatientProfile, *, now: datetime) -> bool:
    due_at = patient.maintenance_due_at
    assert due_at is not None
    clinic = session.get(Clinic, patient.clinic_id)
    clinic_rules = escalations.clinic_rules(clinic) if clinic else rules.DEFAULTS
    last = session.scalar(
        select(func.max(TreatmentSession.started_at)).where(
            TreatmentSession.patient_id == patient.user_id
        )
    )
    if last is None:
        return False
    flag = rules.maintenance_overdue(
        last_session_at=last,
        interval_days=patient.maintenance_interval_days,
        now=now,
        rules=clinic_rules,
    )
    if flag is None:
        return False
    marker_id = _insert_marker(session, patient_id=patient.user_id, due_at=due_at, now=now)
    if marker_id is None:
        return False  # another scheduler raised it for this due time
    refs = escalations.raise_escalations(
        session,
        patient=patient,
        flags=[flag],
        source_type="schedule",
        source_id=marker_id,
        now=now,
    )
    session.execute(
        update(MaintenanceOverdueFlag)
        .where(MaintenanceOverdueFlag.id == marker_id)
        .values(escalation_id=refs[0].id if refs else None)
    )
    return True


def _insert_marker(
    session: Session, *, patient_id: int, due_at: datetime, now: datetime
) -> int | None:
    values: dict[str, Any] = {"patient_id": patient_id, "due_at": due_at, "flagged_at": now}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(MaintenanceOverdueFlag)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["patient_id", "due_at"])
        .returning(MaintenanceOverdueFlag.id)
    )
    new_id: int | None = session.execute(statement).scalar_one_or_none()
    return new_id


# --- What a clinician sees of a patient's plan ------------------------------------------------

# A missed task stays on the clinician's overdue list this long, then it is history.
MISSED_SHOWN_FOR = timedelta(days=14)
UPCOMING_SHOWN = 5


@dataclass(frozen=True, slots=True)
class Overdue:
    """Something a patient should have done by now: a task, or a maintenance session."""

    patient_id: int
    kind: str
    due_at: datetime
    status: str


def _overdue_query(patient_ids: Sequence[int], *, now: datetime) -> Select[Any]:
    return (
        select(Task)
        .where(
            Task.patient_id.in_(set(patient_ids)),
            ((Task.status == OPEN) & (Task.due_at <= now))
            | ((Task.status == MISSED) & (Task.expires_at > now - MISSED_SHOWN_FOR)),
        )
        .order_by(Task.patient_id, Task.due_at, Task.id)
    )


def overdue_for(
    session: Session, *, viewer: User, patients: Sequence[PatientProfile], now: datetime
) -> dict[int, list[Overdue]]:
    """Per patient of the viewer's clinic: open tasks past due, recent misses, maintenance."""
    mine = [p for p in patients if p.clinic_id == viewer.clinic_id]
    found: dict[int, list[Overdue]] = {p.user_id: [] for p in mine}
    if not mine:
        return found
    for task in session.scalars(_overdue_query([p.user_id for p in mine], now=now)):
        found[task.patient_id].append(Overdue(task.patient_id, task.kind, task.due_at, task.status))
    for profile in mine:
        due = profile.maintenance_due_at
        if due is not None and due <= now:
            kind = calendar.TASK_MAINTENANCE_SESSION
            if not any(o.kind == kind for o in found[profile.user_id]):
                found[profile.user_id].append(Overdue(profile.user_id, kind, due, OPEN))
    return found


def upcoming_tasks(
    session: Session, *, viewer: User, patient: PatientProfile, now: datetime
) -> list[Task]:
    """The next open tasks of a patient of the viewer's clinic, soonest first."""
    if patient.clinic_id != viewer.clinic_id:
        raise NotFound("No such patient.")
    return list(
        session.scalars(
            select(Task)
            .where(Task.patient_id == patient.user_id, Task.status == OPEN, Task.due_at > now)
            .order_by(Task.due_at, Task.id)
            .limit(UPCOMING_SHOWN)
        )
    )
