"""Bulk Data $export: a job records the clinic's snapshot time; its files stream from the
database when fetched, in batches, to the owner while the job lives."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from services.errors import NotFound
from services.fhir.scope import Vitals, audit_read
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
    audit_read(
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
    audit_read(
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
    """The scope of a job's file streams."""
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
