"""What the FHIR door reads: patients, check-ins and vitals of the viewer's clinic, audited.

The FHIR views never query on their own: every read goes through a function here, which
scopes it to the clinician's clinic (another clinic's patient is a NotFound, as in the API)
and records the read in the audit trail in the request's unit of work.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from services import audit
from services.errors import NotFound
from store.database import Database
from store.exports import ExportJob
from store.models import PatientProfile, User
from store.reports import Phq9Checkin
from store.schedule import TreatmentSession, VitalsReading

EXPORT_TYPES: tuple[str, ...] = ("Patient", "QuestionnaireResponse", "Observation")
# A job's files can be fetched for this long after the kick-off.
EXPORT_TTL = timedelta(hours=24)
# Rows fetched per round trip while streaming an export: the memory bound.
EXPORT_BATCH = 1000


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Inclusive lower and exclusive upper bounds (either may be None)."""

    lower: datetime | None = None
    upper: datetime | None = None


@dataclass(frozen=True, slots=True)
class Vitals:
    """One vitals reading with the patient it belongs to."""

    reading: VitalsReading
    patient_id: int


def _audit(
    session: Session,
    *,
    viewer: User,
    action: str,
    patient_id: int | None,
    now: datetime,
    detail: dict[str, Any],
) -> None:
    audit.record(
        session,
        actor=viewer,
        action=action,
        target_type="patient" if patient_id is not None else "clinic",
        target_id=patient_id if patient_id is not None else viewer.clinic_id,
        now=now,
        detail={"door": "fhir", **detail},
    )


def patient(session: Session, *, viewer: User, patient_id: int) -> PatientProfile:
    """A patient of the viewer's clinic (NotFound for any other), not yet audited."""
    profile = session.get(PatientProfile, patient_id)
    if (
        profile is None
        or profile.clinic_id != viewer.clinic_id
        or profile.user.deleted_at is not None
    ):
        raise NotFound("No such patient.")
    return profile


def read_patient(
    session: Session, *, viewer: User, patient_id: int, now: datetime
) -> PatientProfile:
    """Patient/{id}: audited."""
    profile = patient(session, viewer=viewer, patient_id=patient_id)
    _audit(
        session,
        viewer=viewer,
        action="fhir.read",
        patient_id=patient_id,
        now=now,
        detail={"resource": "Patient"},
    )
    return profile


def list_patients(
    session: Session, *, viewer: User, after_id: int, limit: int, now: datetime
) -> list[PatientProfile]:
    """The clinic's patients in id order after `after_id`."""
    rows = list(
        session.scalars(
            select(PatientProfile)
            .join(User, User.id == PatientProfile.user_id)
            .where(
                PatientProfile.clinic_id == viewer.clinic_id,
                User.deleted_at.is_(None),
                PatientProfile.user_id > after_id,
            )
            .options(selectinload(PatientProfile.user))
            .order_by(PatientProfile.user_id)
            .limit(limit)
        )
    )
    _audit(
        session,
        viewer=viewer,
        action="fhir.search",
        patient_id=None,
        now=now,
        detail={"resource": "Patient", "count": len(rows)},
    )
    return rows


def _checkin_query(
    *, clinic_id: int, patient_id: int | None, when: Sequence[TimeRange]
) -> Select[Any]:
    query = select(Phq9Checkin).where(Phq9Checkin.clinic_id == clinic_id)
    if patient_id is not None:
        query = query.where(Phq9Checkin.patient_id == patient_id)
    for r in when:
        if r.lower is not None:
            query = query.where(Phq9Checkin.answered_at >= r.lower)
        if r.upper is not None:
            query = query.where(Phq9Checkin.answered_at < r.upper)
    return query


def search_checkins(
    session: Session,
    *,
    viewer: User,
    patient_id: int | None,
    when: Sequence[TimeRange],
    after_id: int,
    limit: int,
    now: datetime,
    resource: str,
    asrm_only: bool = False,
) -> list[Phq9Checkin]:
    """PHQ-9 check-ins (optionally only those carrying an ASRM) in id order, audited."""
    assert viewer.clinic_id is not None
    if patient_id is not None:
        patient(session, viewer=viewer, patient_id=patient_id)
    query = _checkin_query(clinic_id=viewer.clinic_id, patient_id=patient_id, when=when)
    if asrm_only:
        query = query.where(Phq9Checkin.asrm_total.is_not(None))
    rows = list(
        session.scalars(
            query.where(Phq9Checkin.id > after_id).order_by(Phq9Checkin.id).limit(limit)
        )
    )
    _audit(
        session,
        viewer=viewer,
        action="fhir.search",
        patient_id=patient_id,
        now=now,
        detail={"resource": resource, "count": len(rows)},
    )
    return rows


def read_checkin(
    session: Session, *, viewer: User, checkin_id: int, now: datetime, resource: str
) -> Phq9Checkin:
    """One check-in of the viewer's clinic (NotFound otherwise), audited."""
    row = session.get(Phq9Checkin, checkin_id)
    if row is None or row.clinic_id != viewer.clinic_id:
        raise NotFound(f"No such {resource}.")
    _audit(
        session,
        viewer=viewer,
        action="fhir.read",
        patient_id=row.patient_id,
        now=now,
        detail={"resource": resource, "id": checkin_id},
    )
    return row


def _vitals_query(
    *, clinic_id: int, patient_id: int | None, when: Sequence[TimeRange], heart_rate: bool
) -> Any:
    query: Any = (
        select(VitalsReading, TreatmentSession.patient_id)
        .join(TreatmentSession, TreatmentSession.id == VitalsReading.session_id)
        .where(TreatmentSession.clinic_id == clinic_id)
    )
    if patient_id is not None:
        query = query.where(TreatmentSession.patient_id == patient_id)
    if heart_rate:
        query = query.where(VitalsReading.heart_rate.is_not(None))
    for r in when:
        if r.lower is not None:
            query = query.where(VitalsReading.at >= r.lower)
        if r.upper is not None:
            query = query.where(VitalsReading.at < r.upper)
    return query


def search_vitals(
    session: Session,
    *,
    viewer: User,
    patient_id: int | None,
    when: Sequence[TimeRange],
    heart_rate: bool,
    after_id: int,
    limit: int,
    now: datetime,
) -> list[Vitals]:
    """Session vitals readings in id order (only those with a heart rate when asked), audited."""
    assert viewer.clinic_id is not None
    if patient_id is not None:
        patient(session, viewer=viewer, patient_id=patient_id)
    query = _vitals_query(
        clinic_id=viewer.clinic_id, patient_id=patient_id, when=when, heart_rate=heart_rate
    )
    rows = [
        Vitals(reading=r, patient_id=pid)
        for r, pid in session.execute(
            query.where(VitalsReading.id > after_id).order_by(VitalsReading.id).limit(limit)
        )
    ]
    _audit(
        session,
        viewer=viewer,
        action="fhir.search",
        patient_id=patient_id,
        now=now,
        detail={"resource": "Observation", "count": len(rows)},
    )
    return rows


def read_vitals(session: Session, *, viewer: User, reading_id: int, now: datetime) -> Vitals:
    """One vitals reading of the viewer's clinic (NotFound otherwise), audited."""
    row = session.execute(
        select(VitalsReading, TreatmentSession.patient_id, TreatmentSession.clinic_id)
        .join(TreatmentSession, TreatmentSession.id == VitalsReading.session_id)
        .where(VitalsReading.id == reading_id)
    ).first()
    if row is None or row[2] != viewer.clinic_id:
        raise NotFound("No such Observation.")
    _audit(
        session,
        viewer=viewer,
        action="fhir.read",
        patient_id=row[1],
        now=now,
        detail={"resource": "Observation", "id": reading_id},
    )
    return Vitals(reading=row[0], patient_id=row[1])


@dataclass(frozen=True, slots=True)
class Everything:
    """One patient's record for Patient/$everything."""

    patient: PatientProfile
    checkins: list[Phq9Checkin]
    vitals: list[Vitals]


def everything(session: Session, *, viewer: User, patient_id: int, now: datetime) -> Everything:
    """The patient, their check-ins and their session vitals (three queries), audited."""
    profile = patient(session, viewer=viewer, patient_id=patient_id)
    assert viewer.clinic_id is not None
    checkins = list(
        session.scalars(
            _checkin_query(clinic_id=viewer.clinic_id, patient_id=patient_id, when=()).order_by(
                Phq9Checkin.id
            )
        )
    )
    vitals = [
        Vitals(reading=r, patient_id=pid)
        for r, pid in session.execute(
            _vitals_query(
                clinic_id=viewer.clinic_id, patient_id=patient_id, when=(), heart_rate=False
            ).order_by(VitalsReading.id)
        )
    ]
    _audit(
        session,
        viewer=viewer,
        action="fhir.everything",
        patient_id=patient_id,
        now=now,
        detail={"checkins": len(checkins), "vitals": len(vitals)},
    )
    return Everything(patient=profile, checkins=checkins, vitals=vitals)


# --- Bulk Data $export ----------------------------------------------------------------------


def start_export(
    session: Session,
    *,
    viewer: User,
    types: Sequence[str],
    since: datetime | None,
    request_url: str,
    now: datetime,
) -> ExportJob:
    """Record an export of the viewer's clinic as of now; its files stream when fetched."""
    assert viewer.clinic_id is not None
    job = ExportJob(
        id=secrets.token_hex(16),
        clinic_id=viewer.clinic_id,
        requested_by=viewer.id,
        request_url=request_url[:2000],
        types=list(types),
        since=since,
        transaction_time=now,
    )
    session.add(job)
    _audit(
        session,
        viewer=viewer,
        action="fhir.export",
        patient_id=None,
        now=now,
        detail={"job": job.id, "types": list(types)},
    )
    return job


def export_job(session: Session, *, viewer: User, job_id: str, now: datetime) -> ExportJob:
    """The viewer's own live export job; any other user's, a cancelled or an expired one is
    NotFound (a status URL is not a capability that can be passed around)."""
    job = session.get(ExportJob, job_id) if len(job_id) <= 36 else None
    if (
        job is None
        or job.requested_by != viewer.id
        or job.clinic_id != viewer.clinic_id
        or job.cancelled_at is not None
        or now >= job.transaction_time + EXPORT_TTL
    ):
        raise NotFound("No such export job.")
    return job


def cancel_export(session: Session, *, viewer: User, job_id: str, now: datetime) -> None:
    """DELETE on the status URL: the job and its files are gone."""
    job = export_job(session, viewer=viewer, job_id=job_id, now=now)
    job.cancelled_at = now


def open_export_file(
    session: Session, *, viewer: User, job_id: str, resource: str, now: datetime
) -> ExportJob:
    """Check and audit a file download before it streams."""
    job = export_job(session, viewer=viewer, job_id=job_id, now=now)
    if resource not in job.types:
        raise NotFound("No such export file.")
    _audit(
        session,
        viewer=viewer,
        action="fhir.export_file",
        patient_id=None,
        now=now,
        detail={"job": job.id, "resource": resource},
    )
    return job


@dataclass(frozen=True, slots=True)
class JobScope:
    """What a file stream needs, detached from the request's session."""

    clinic_id: int
    since: datetime | None
    until: datetime


def job_scope(job: ExportJob) -> JobScope:
    return JobScope(clinic_id=job.clinic_id, since=job.since, until=job.transaction_time)


def _streamed(session: Session, query: Any) -> Iterator[Any]:
    # yield_per streams: a server-side cursor on PostgreSQL, EXPORT_BATCH rows at a time; the
    # session's identity map holds rows weakly, so yielded rows are freed once written out.
    result = session.execute(query.execution_options(yield_per=EXPORT_BATCH))
    yield from result


def stream_patients(database: Database, scope: JobScope) -> Iterator[PatientProfile]:
    """The clinic's patients enrolled up to the snapshot time, in id order."""
    with database.session() as session:
        query = (
            select(PatientProfile)
            .join(User, User.id == PatientProfile.user_id)
            .where(
                PatientProfile.clinic_id == scope.clinic_id,
                User.deleted_at.is_(None),
                PatientProfile.enrolled_at <= scope.until,
            )
            .options(selectinload(PatientProfile.user))
            .order_by(PatientProfile.user_id)
        )
        if scope.since is not None:
            query = query.where(PatientProfile.enrolled_at >= scope.since)
        for (profile,) in _streamed(session, query):
            yield profile


def stream_checkins(database: Database, scope: JobScope) -> Iterator[Phq9Checkin]:
    """The clinic's check-ins received up to the snapshot time, in id order."""
    with database.session() as session:
        query = (
            select(Phq9Checkin)
            .where(Phq9Checkin.clinic_id == scope.clinic_id, Phq9Checkin.received_at <= scope.until)
            .order_by(Phq9Checkin.id)
        )
        if scope.since is not None:
            query = query.where(Phq9Checkin.received_at >= scope.since)
        for (row,) in _streamed(session, query):
            yield row


def stream_vitals(database: Database, scope: JobScope) -> Iterator[Vitals]:
    """The clinic's session vitals recorded up to the snapshot time, in id order."""
    with database.session() as session:
        query: Any = (
            select(VitalsReading, TreatmentSession.patient_id)
            .join(TreatmentSession, TreatmentSession.id == VitalsReading.session_id)
            .where(
                TreatmentSession.clinic_id == scope.clinic_id,
                TreatmentSession.recorded_at <= scope.until,
            )
            .order_by(VitalsReading.id)
        )
        if scope.since is not None:
            query = query.where(TreatmentSession.recorded_at >= scope.since)
        for reading, pid in _streamed(session, query):
            yield Vitals(reading=reading, patient_id=pid)
