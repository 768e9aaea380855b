"""Treatment sessions: record one (with its vitals), re-plan the calendar, flag hypertension."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from clinical import rules
from notifications import outbox, texts
from services import audit, escalations, schedule
from services.batches import Batch
from services.errors import Conflict, Invalid, NotFound
from services.escalations import EscalationRef
from services.pagination import Page, decode_cursor, encode_cursor
from services.patients import get_patient
from store.dialects import for_update
from store.locks import lock_patient
from store.models import Clinic, PatientProfile, User
from store.schedule import TreatmentSession, VitalsReading

if TYPE_CHECKING:
    pass

# Devices' clocks drift; a session "starting now" may read a few minutes ahead of ours.
CLOCK_SKEW = timedelta(minutes=5)
# Readings belong to the session: taken from shortly before the infusion to its recovery.
VITALS_BEFORE_START = timedelta(hours=2)
VITALS_AFTER_START = timedelta(hours=12)


IN_PROGRESS = "in_progress"
COMPLETED = "completed"
OVERDUE_PURPOSE = "vitals_overdue"
OVERDUE_BATCH = 200


@dataclass(frozen=True, slots=True)
class RecordedSession:
    record: TreatmentSession
    escalation: EscalationRef | None


@dataclass(frozen=True, slots=True)
class RecordedReading:
    """One live reading, the flags it raised on arrival and the escalation they raised."""

    record: VitalsReading
    flags: list[rules.Flag]
    escalation: EscalationRef | None


def _clinical(reading: VitalsReading) -> rules.VitalsReading:
    return rules.VitalsReading(
        reading.at, reading.systolic, reading.diastolic, reading.heart_rate, reading.spo2
    )


def _clinic_rules(session: Session, clinic_id: int) -> rules.EscalationRules:
    clinic = session.get(Clinic, clinic_id)
    return escalations.clinic_rules(clinic) if clinic else rules.DEFAULTS


def _deviations(record: TreatmentSession, readings: list[VitalsReading]) -> list[dict[str, Any]]:
    return [
        d.as_dict()
        for d in rules.session_deviations(
            started_at=record.started_at,
            ketamine_mg_per_kg=record.ketamine_mg_per_kg,
            ketamine_infusion_minutes=record.ketamine_infusion_minutes,
            readings=[_clinical(r) for r in readings],
        )
    ]


def _check_times(data: Mapping[str, Any], *, now: datetime) -> None:
    errors: dict[str, list[str]] = {}
    started_at: datetime = data["started_at"]
    if started_at > now + CLOCK_SKEW:
        errors["started_at"] = ["Must not be in the future."]
    live = data.get("status") == IN_PROGRESS
    if live and len(data.get("vitals") or []) > 1:
        errors["vitals"] = ["A live session opens with no reading or the pre-dose reading only."]
    if not live and data.get("vitals") is None:
        errors["vitals"] = ["Required for a back-filled session (or open it as in_progress)."]
    for index, reading in enumerate(data.get("vitals") or []):
        at: datetime = reading["at"]
        if at > now + CLOCK_SKEW:
            errors[f"vitals.{index}.at"] = ["Must not be in the future."]
        elif not started_at - VITALS_BEFORE_START <= at <= started_at + VITALS_AFTER_START:
            errors[f"vitals.{index}.at"] = [
                "Must be taken during the session: from 2 hours before its start to 12 hours after."
            ]
    if errors:
        raise Invalid(errors)


def _new_session(
    profile: PatientProfile,
    *,
    clinician: User,
    data: Mapping[str, Any],
    live: bool,
    now: datetime,
) -> tuple[TreatmentSession, list[VitalsReading]]:
    """The session row and its readings (in time order on the row), not yet added."""
    record = TreatmentSession(
        patient_id=profile.user_id,
        clinic_id=profile.clinic_id,
        started_at=data["started_at"],
        ketamine_mg_per_kg=data["ketamine_mg_per_kg"],
        ketamine_infusion_minutes=data["ketamine_infusion_minutes"],
        tms_minutes=data["tms_minutes"],
        notes=data.get("notes"),
        recorded_by=clinician.id,
        recorded_at=now,
        status=IN_PROGRESS if live else COMPLETED,
    )
    readings = [
        VitalsReading(
            at=v["at"],
            systolic=v["systolic"],
            diastolic=v["diastolic"],
            heart_rate=v.get("heart_rate"),
            spo2=v.get("spo2"),
        )
        for v in data.get("vitals") or []
    ]
    record.vitals = sorted(readings, key=lambda r: r.at)
    return record, readings


def record_session(
    session: Session,
    *,
    clinician: User,
    patient_id: int,
    data: Mapping[str, Any],
    now: datetime,
) -> RecordedSession:
    """Store a session and its vitals, re-plan the patient, and escalate high blood pressure.

    Back-filled sessions (even from before enrolment) are welcome: the calendar re-plans from
    the sessions as recorded.
    """
    profile = get_patient(session, viewer=clinician, patient_id=patient_id)
    _check_times(data, now=now)
    lock_patient(session, profile)
    started_at: datetime = data["started_at"]
    duplicate = session.scalar(
        select(TreatmentSession.id).where(
            TreatmentSession.patient_id == profile.user_id,
            TreatmentSession.started_at == started_at,
        )
    )
    if duplicate is not None:
        raise Conflict(f"Session {duplicate} already starts at this time.")
    live = data.get("status") == IN_PROGRESS
    record, readings = _new_session(profile, clinician=clinician, data=data, live=live, now=now)
    clinic_rules = _clinic_rules(session, profile.clinic_id)
    record.warnings = rules.pre_dose_warnings(
        [_clinical(r) for r in readings], started_at=started_at, rules=clinic_rules
    )
    # Deviations are judged once the readings are complete: at once when back-filled (the
    # same deviations a live session records when it ends).
    record.deviations = [] if live else _deviations(record, readings)
    session.add(record)
    session.flush()
    schedule.replan_patient(session, patient=profile, now=now)

    flags = rules.vitals_flags([_clinical(r) for r in readings], clinic_rules)
    refs = escalations.raise_escalations(
        session,
        patient=profile,
        flags=flags,
        source_type="session",
        source_id=record.id,
        now=now,
    )
    audit.record(
        session,
        actor=clinician,
        action="session.record",
        target_type="session",
        target_id=record.id,
        now=now,
        detail={"patient_id": profile.user_id},
    )
    return RecordedSession(record, refs[0] if refs else None)


def _live_session(session: Session, *, clinician: User, session_id: int) -> TreatmentSession:
    """The clinician's clinic's session, locked for this transaction (404 for any other)."""
    query = for_update(select(TreatmentSession).where(TreatmentSession.id == session_id), session)
    record = session.scalars(query).first()
    if record is None or record.clinic_id != clinician.clinic_id:
        raise NotFound("No such treatment session.")
    return record


def add_reading(
    session: Session,
    *,
    clinician: User,
    session_id: int,
    data: Mapping[str, Any],
    now: datetime,
) -> RecordedReading:
    """Add one reading to a live session and judge it at once (hypertension, HR, SpO2)."""
    record = _live_session(session, clinician=clinician, session_id=session_id)
    if record.status != IN_PROGRESS:
        raise Conflict("This session has ended; readings can no longer be added.")
    at: datetime = data["at"]
    if at > now + CLOCK_SKEW:
        raise Invalid({"at": ["Must not be in the future."]})
    if at < record.started_at:
        raise Invalid(
            {"at": ["Must not be before the session's start (open it with the pre-dose reading)."]}
        )
    if at > record.started_at + VITALS_AFTER_START:
        raise Invalid({"at": ["Must be within 12 hours of the session's start."]})
    reading = VitalsReading(
        session_id=record.id,
        at=at,
        systolic=data["systolic"],
        diastolic=data["diastolic"],
        heart_rate=data.get("heart_rate"),
        spo2=data.get("spo2"),
    )
    session.add(reading)
    session.flush()
    profile = get_patient(session, viewer=clinician, patient_id=record.patient_id)
    flags = rules.vitals_flags([_clinical(reading)], _clinic_rules(session, record.clinic_id))
    refs = escalations.raise_escalations(
        session, patient=profile, flags=flags, source_type="session", source_id=record.id, now=now
    )
    audit.record(
        session,
        actor=clinician,
        action="session.reading",
        target_type="session",
        target_id=record.id,
        now=now,
        detail={"patient_id": record.patient_id},
    )
    return RecordedReading(reading, flags, refs[0] if refs else None)


def end_session(
    session: Session,
    *,
    clinician: User,
    session_id: int,
    data: Mapping[str, Any],
    now: datetime,
) -> RecordedSession:
    """Close a live session and record its deviations (409 when it has already ended)."""
    record = _live_session(session, clinician=clinician, session_id=session_id)
    if record.status != IN_PROGRESS:
        raise Conflict("This session has already ended.")
    ended_at: datetime = data.get("ended_at") or now
    if ended_at > now + CLOCK_SKEW:
        raise Invalid({"ended_at": ["Must not be in the future."]})
    if ended_at < record.started_at:
        raise Invalid({"ended_at": ["Must not be before the session's start."]})
    if data.get("ketamine_infusion_minutes") is not None:
        record.ketamine_infusion_minutes = data["ketamine_infusion_minutes"]
    readings = list(
        session.scalars(
            select(VitalsReading)
            .where(VitalsReading.session_id == record.id)
            .order_by(VitalsReading.at)
        )
    )
    record.status = COMPLETED
    record.ended_at = ended_at
    record.deviations = _deviations(record, readings)
    audit.record(
        session,
        actor=clinician,
        action="session.end",
        target_type="session",
        target_id=record.id,
        now=now,
        detail={"patient_id": record.patient_id},
    )
    session.flush()
    session.refresh(record)
    return RecordedSession(record, None)


def get_session(session: Session, *, viewer: User, session_id: int) -> TreatmentSession:
    """One session of the viewer's clinic (404 for any other)."""
    record = session.get(TreatmentSession, session_id)
    if record is None or record.clinic_id != viewer.clinic_id:
        raise NotFound("No such treatment session.")
    return record


def check_overdue_readings(session: Session, *, now: datetime, limit: int = OVERDUE_BATCH) -> Batch:
    """Text the clinician running a live session once its last reading is over 20 minutes old.

    Also puts a routine vitals_overdue item in the inbox. The session's
    ``vitals_overdue_anchor`` (the reading, or start, already texted about) and the SMS dedupe
    key ``vitals_overdue:<session>:<anchor>`` make a rerun or a second scheduler text nobody twice.
    ``handled`` counts the clinicians texted.
    """
    last = (
        select(VitalsReading.session_id, func.max(VitalsReading.at).label("last_at"))
        .group_by(VitalsReading.session_id)
        .subquery()
    )
    query = (
        select(TreatmentSession, last.c.last_at)
        .outerjoin(last, last.c.session_id == TreatmentSession.id)
        .where(
            TreatmentSession.status == IN_PROGRESS,
            TreatmentSession.started_at > now - VITALS_AFTER_START,
        )
        .order_by(TreatmentSession.id)
        .limit(limit)
    )
    rows = session.execute(for_update(query, session, skip_locked=True, of=TreatmentSession)).all()
    batch = Batch(full=len(rows) >= limit)
    for record, last_at in rows:
        batch.attempt(
            session,
            f"treatment session {record.id}",
            partial(_text_if_overdue, session, record, last_at=last_at, now=now),
        )
    return batch


def _text_if_overdue(
    session: Session, record: TreatmentSession, *, last_at: datetime | None, now: datetime
) -> bool:
    clinic_rules = _clinic_rules(session, record.clinic_id)
    due = rules.reading_due_since(
        started_at=record.started_at, last_reading_at=last_at, now=now, rules=clinic_rules
    )
    if due is None:
        return False
    anchor = max(record.started_at, last_at) if last_at is not None else record.started_at
    if record.vitals_overdue_anchor is not None and record.vitals_overdue_anchor >= anchor:
        return False  # already texted about this silence
    record.vitals_overdue_anchor = anchor
    opener = session.get(User, record.recorded_by)
    if opener is not None and opener.phone and opener.is_active and not opener.sms_opted_out:
        outbox.enqueue_sms(
            session,
            to=opener.phone,
            body=texts.reading_due(),
            purpose=OVERDUE_PURPOSE,
            recipient_id=opener.id,
            dedupe_key=f"vitals_overdue:{record.id}:{anchor.isoformat()}",
            now=now,
        )
    profile = session.get(PatientProfile, record.patient_id)
    if profile is not None:
        flag = rules.vitals_overdue_flag(
            session_id=record.id, anchor=anchor, now=now, rules=clinic_rules
        )
        escalations.raise_escalations(
            session,
            patient=profile,
            flags=[flag],
            source_type="session",
            source_id=record.id,
            now=now,
        )
    return True


def list_sessions(
    session: Session,
    *,
    viewer: User,
    patient_id: int,
    limit: int,
    cursor: str | None,
    now: datetime | None = None,
) -> Page[TreatmentSession]:
    """A patient's sessions, latest start first (back-filled ones in their place); audited."""
    profile = get_patient(session, viewer=viewer, patient_id=patient_id)
    audit.record_reads(session, actor=viewer, what="sessions", patient_ids=[patient_id], now=now)
    query = (
        select(TreatmentSession)
        .where(TreatmentSession.patient_id == profile.user_id)
        .options(selectinload(TreatmentSession.vitals))
    )
    if cursor:
        after = session.get(TreatmentSession, decode_cursor(cursor))
        if after is None or after.patient_id != profile.user_id:
            raise Invalid({"cursor": ["Not a cursor this service issued."]})
        query = query.where(
            or_(
                TreatmentSession.started_at < after.started_at,
                and_(
                    TreatmentSession.started_at == after.started_at, TreatmentSession.id < after.id
                ),
            )
        )
    rows = list(
        session.scalars(
            query.order_by(TreatmentSession.started_at.desc(), TreatmentSession.id.desc()).limit(
                limit + 1
            )
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=rows, next_cursor=encode_cursor(rows[-1].id) if more and rows else None)
