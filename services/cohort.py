"""The clinic's cohort outcome report: one query for every patient, arithmetic in clinical/."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, String, cast, func, select
from sqlalchemy.orm import Session

from clinical import cohort
from services import audit
from services.errors import NotFound
from store.models import Clinic, EligibilityScreening, PatientProfile, User
from store.reports import Phq9Checkin
from store.schedule import TreatmentSession

CSV_COLUMNS: tuple[str, ...] = (
    "pseudonym",
    "bipolar",
    "prior_failure",
    "phase",
    "sessions",
    "checkins",
    "baseline",
    "baseline_source",
    "acute_completed",
    "acute_stopped_early",
    "completion_total",
    "percent_reduction",
    "response",
    "remission",
    "not_evaluable",
    *(f"sustained_remission_{m}m" for m in cohort.FOLLOW_UP_MONTHS),
    "protocol_deviations",
)


def pseudonym(secret: str, patient_id: int) -> str:
    """A stable pseudonymous id: a keyed hash, so the CSV cannot be joined back without the key."""
    digest = hmac.new(secret.encode(), f"patient:{patient_id}".encode(), hashlib.sha256)
    return "P-" + digest.hexdigest()[:12]


def _epoch(column: Any, dialect: str) -> ColumnElement[int]:
    """Seconds since 1970 as an integer, so many times fit in one aggregated string."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", column), BigInteger)
    return cast(func.strftime("%s", column), Integer)


def _aggregated(text: str | None) -> list[list[str]]:
    return [part.split(":") for part in text.split(",")] if text else []


def _num(value: str) -> float | None:
    return None if value == "" else float(value)


def _courses_query(dialect: str, clinic_id: int) -> Any:
    checkins = (
        select(
            Phq9Checkin.patient_id.label("pid"),
            func.aggregate_strings(
                cast(_epoch(Phq9Checkin.answered_at, dialect), String)
                + ":"
                + cast(Phq9Checkin.id, String)
                + ":"
                + cast(Phq9Checkin.total, String),
                ",",
            ).label("points"),
        )
        .where(Phq9Checkin.clinic_id == clinic_id)
        .group_by(Phq9Checkin.patient_id)
        .subquery()
    )
    sessions = (
        select(
            TreatmentSession.patient_id.label("pid"),
            func.aggregate_strings(
                cast(_epoch(TreatmentSession.started_at, dialect), String)
                + ":"
                + cast(TreatmentSession.id, String)
                + ":"
                + func.coalesce(cast(TreatmentSession.ketamine_mg_per_kg, String), "")
                + ":"
                + func.coalesce(cast(TreatmentSession.ketamine_infusion_minutes, String), ""),
                ",",
            ).label("points"),
        )
        .where(TreatmentSession.clinic_id == clinic_id)
        .group_by(TreatmentSession.patient_id)
        .subquery()
    )
    screening = (
        select(
            EligibilityScreening.patient_id.label("pid"),
            func.max(EligibilityScreening.id).label("sid"),
        )
        .where(EligibilityScreening.clinic_id == clinic_id, EligibilityScreening.eligible)
        .group_by(EligibilityScreening.patient_id)
        .subquery()
    )
    return (
        select(
            PatientProfile.user_id,
            PatientProfile.bipolar,
            PatientProfile.phase,
            PatientProfile.acute_target_sessions,
            PatientProfile.baseline_instrument,
            PatientProfile.baseline_score,
            EligibilityScreening.answers,
            checkins.c.points,
            sessions.c.points,
        )
        .join(User, User.id == PatientProfile.user_id)
        .outerjoin(checkins, checkins.c.pid == PatientProfile.user_id)
        .outerjoin(sessions, sessions.c.pid == PatientProfile.user_id)
        .outerjoin(screening, screening.c.pid == PatientProfile.user_id)
        .outerjoin(EligibilityScreening, EligibilityScreening.id == screening.c.sid)
        .where(PatientProfile.clinic_id == clinic_id, User.deleted_at.is_(None))
        .order_by(PatientProfile.user_id)
    )


def _when(epoch: str) -> datetime:
    return datetime.fromtimestamp(int(epoch), UTC)


def load_courses(session: Session, *, clinic_id: int, secret: str) -> list[cohort.Course]:
    """Every patient of the clinic as a plain Course, in one round trip (no N+1)."""
    dialect = session.get_bind().dialect.name
    courses = []
    for row in session.execute(_courses_query(dialect, clinic_id)):
        pid, bipolar, phase, target, instrument, score, answers, c_points, s_points = row
        checkins = sorted(
            ((int(at), int(i), int(total)) for at, i, total in _aggregated(c_points)),
        )
        sessions = sorted(
            (int(at), int(i), _num(dose), _num(minutes))
            for at, i, dose, minutes in _aggregated(s_points)
        )
        prior = tuple(
            str(m)
            for m in sorted((answers or {}).get("prior_inadequate_response") or [])
            if isinstance(m, str)
        )
        courses.append(
            cohort.Course(
                key=pseudonym(secret, pid),
                bipolar=bool(bipolar),
                prior_failures=prior,
                phase=phase,
                acute_target=target,
                screening_instrument=instrument,
                screening_score=score,
                checkins=tuple(cohort.Checkin(at=_when(str(a)), total=t) for a, _, t in checkins),
                sessions=tuple(
                    cohort.SessionGiven(
                        at=_when(str(a)),
                        mg_per_kg=dose,
                        infusion_minutes=None if minutes is None else int(minutes),
                    )
                    for a, _, dose, minutes in sessions
                ),
            )
        )
    return courses


def _clinic_for(session: Session, *, viewer: User, clinic_id: int) -> Clinic:
    clinic = session.get(Clinic, clinic_id)
    if clinic is None or (viewer.role != "admin" and viewer.clinic_id != clinic_id):
        raise NotFound("No such clinic.")
    return clinic


def outcomes(
    session: Session, *, viewer: User, clinic_id: int, secret: str, now: datetime
) -> tuple[dict[str, Any], list[cohort.PatientOutcome]]:
    """The report and its per-patient rows (clinicians of the clinic and admins; 404 otherwise)."""
    _clinic_for(session, viewer=viewer, clinic_id=clinic_id)
    rows = [
        cohort.evaluate(c, now=now)
        for c in load_courses(session, clinic_id=clinic_id, secret=secret)
    ]
    audit.record(
        session,
        actor=viewer,
        action="outcomes.read",
        target_type="clinic",
        target_id=clinic_id,
        clinic_id=clinic_id,
        now=now,
        detail={"patients": len(rows)},
    )
    return {"clinic_id": clinic_id, "at": now, **cohort.report_from(rows)}, rows


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_lines(rows: Sequence[cohort.PatientOutcome]) -> Iterator[str]:
    """One pseudonymous row per patient: no name, phone or date."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for o in rows:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    o.key,
                    o.bipolar,
                    ";".join(o.prior_failures),
                    o.phase,
                    o.sessions,
                    o.checkins,
                    o.baseline,
                    o.baseline_source,
                    o.acute_completed,
                    o.acute_stopped_early,
                    o.completion_total,
                    o.percent_reduction,
                    o.response,
                    o.remission,
                    o.not_evaluable,
                    *(o.sustained_remission[m] for m in cohort.FOLLOW_UP_MONTHS),
                    sum(o.deviations.values()),
                )
            ]
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
