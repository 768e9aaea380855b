"""Treatment sessions: record one (with its vitals), re-plan the calendar, flag hypertension."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from clinical import rules
from services import audit, escalations, schedule
from services.errors import Conflict, Invalid
from services.escalations import EscalationRef
from services.pagination import Page, decode_cursor, encode_cursor
from services.patients import get_patient
from store.models import Clinic, User
from store.schedule import TreatmentSession, VitalsReading

# Devices' clocks drift; a session "starting now" may read a few minutes ahead of ours.
CLOCK_SKEW = timedelta(minutes=5)
# Readings belong to the session: taken from shortly before the infusion to its recovery.
VITALS_BEFORE_START = timedelta(hours=2)
VITALS_AFTER_START = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class RecordedSession:
    record: TreatmentSession
    escalation: EscalationRef | None


def _check_times(data: Mapping[str, Any], *, now: datetime) -> None:
    errors: dict[str, list[str]] = {}
    started_at: datetime = data["started_at"]
    if started_at > now + CLOCK_SKEW:
        errors["started_at"] = ["Must not be in the future."]
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
    schedule.lock_patient(session, profile)
    started_at: datetime = data["started_at"]
    duplicate = session.scalar(
        select(TreatmentSession.id).where(
            TreatmentSession.patient_id == profile.user_id,
            TreatmentSession.started_at == started_at,
        )
    )
    if duplicate is not None:
        raise Conflict(f"Session {duplicate} already starts at this time.")
    record = TreatmentSession(
        patient_id=profile.user_id,
        clinic_id=profile.clinic_id,
        started_at=started_at,
        ketamine_mg_per_kg=data["ketamine_mg_per_kg"],
        ketamine_infusion_minutes=data["ketamine_infusion_minutes"],
        tms_minutes=data["tms_minutes"],
        notes=data.get("notes"),
        recorded_by=clinician.id,
        recorded_at=now,
    )
    readings = [
        VitalsReading(
            at=v["at"],
            systolic=v["systolic"],
            diastolic=v["diastolic"],
            heart_rate=v.get("heart_rate"),
        )
        for v in data.get("vitals") or []
    ]
    record.vitals = sorted(readings, key=lambda r: r.at)
    session.add(record)
    session.flush()
    schedule.replan_patient(session, patient=profile, now=now)

    clinic = session.get(Clinic, profile.clinic_id)
    flags = rules.vitals_flags(
        [rules.VitalsReading(r.at, r.systolic, r.diastolic, r.heart_rate) for r in readings],
        escalations.clinic_rules(clinic) if clinic else rules.DEFAULTS,
    )
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
