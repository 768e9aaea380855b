"""The protocol's calendar made concrete: task rows, their reminder times, and answering them.

`clinical.calendar.plan` says what a patient should be asked and when; `replan_patient` keeps
one Task row per plan key in step with it. Jobs then work from those rows alone (what is due
is rows, never process memory), so a restart or a second scheduler neither loses nor repeats
a reminder (services.reminders); missed tasks and overdue maintenance are services.overdue.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from clinical import calendar
from services import audit
from services.clinics import DEFAULT_POLICY, effective_policy
from services.errors import Invalid, NotFound
from store.locks import lock_patient
from store.models import Clinic, PatientProfile, User
from store.schedule import Task, TaskStatus, TreatmentSession

log = logging.getLogger("tandem.schedule")

OPEN = TaskStatus.OPEN
DONE = TaskStatus.DONE
MISSED = TaskStatus.MISSED
CANCELLED = TaskStatus.CANCELLED

# PHQ-9 item 9 asked alone, after a check-in skipped it (rules-2); answered at
# POST /api/v1/checkins/phq9-item9.
TASK_ITEM9 = calendar.TaskKind.PHQ9_ITEM9
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
