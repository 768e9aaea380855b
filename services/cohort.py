"""The clinic's cohort outcome report: one query for every patient, arithmetic in clinical/."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, cast, func, select, text
from sqlalchemy.orm import Session

from clinical import cohort
from services import audit
from services.errors import NotFound
from store.dialects import is_postgresql
from store.models import Clinic, EligibilityScreening, PatientProfile, Role, User
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


def _epoch(column: Any) -> ColumnElement[int]:
    """Seconds since 1970 as an integer (SQLite), so many times fit in one aggregated string."""
    return cast(func.strftime("%s", column), Integer)


def _points(text: str | None) -> list[list[str]]:
    """'a:b:c,d:e:f' -> [['a','b','c'], ['d','e','f']]."""
    return [part.split(":") for part in text.split(",")] if text else []


def _num(value: str) -> float | None:
    return None if value == "" else float(value)


def _courses_query(clinic_id: int) -> Any:
    checkins = (
        select(
            Phq9Checkin.patient_id.label("pid"),
            func.aggregate_strings(
                cast(_epoch(Phq9Checkin.answered_at), String)
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
                cast(_epoch(TreatmentSession.started_at), String)
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


def _when(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _window(name: str, lo: str, hi: str, order: str = "ASC") -> str:
    """A LATERAL pick of the first (or last) check-in between lo (exclusive) and hi."""
    # Built once at import from this module's constants; no request value reaches it.
    return f"""
    LEFT JOIN LATERAL (
        SELECT c.answered_at, c.total FROM phq9_checkins c
        WHERE c.patient_id = p.user_id AND c.answered_at > {lo} AND c.answered_at <= {hi}
        ORDER BY c.answered_at {order}, c.id {order} LIMIT 1
    ) {name} ON true"""  # noqa: S608


def _follow_up(months: int) -> str:
    # Calendar months on the UTC wall clock, clamped to the month's end like add_months.
    target = f"((p.acute_end AT TIME ZONE 'UTC' + interval '{months} months') AT TIME ZONE 'UTC')"
    return _window(
        f"f{months}",
        f"{target} - interval '{cohort.FOLLOW_UP_BEFORE.days} days'",
        f"{target} + interval '{cohort.FOLLOW_UP_AFTER.days} days'",
    )


# PostgreSQL picks, per patient, only the check-ins the arithmetic looks at (the latest before
# the first session, the first after the acute course, the first near each follow-up): index
# probes on ix_phq9_checkins_patient_answered instead of shipping every check-in to Python.
PICKED_SQL = f"""
WITH s AS (
    SELECT ts.patient_id, ts.started_at, pp.acute_target_sessions AS target,
           row_number() OVER (PARTITION BY ts.patient_id ORDER BY ts.started_at, ts.id) AS k,
           CASE WHEN ts.ketamine_mg_per_kg IS NOT NULL AND abs(ts.ketamine_mg_per_kg - :dose)
                     > :dose_tolerance THEN 1 ELSE 0 END AS dose_off,
           CASE WHEN ts.ketamine_infusion_minutes < :min_minutes
                  OR ts.ketamine_infusion_minutes > :max_minutes THEN 1 ELSE 0 END AS duration_off
    FROM treatment_sessions ts JOIN patients pp ON pp.user_id = ts.patient_id
    WHERE ts.clinic_id = :clinic_id
),
agg AS (
    SELECT patient_id, count(*) AS n, min(started_at) AS first_at, max(started_at) AS last_at,
           max(CASE WHEN k = target THEN started_at END) AS at_target,
           sum(dose_off) AS dose_off, sum(duration_off) AS duration_off
    FROM s GROUP BY patient_id
),
cc AS (
    SELECT patient_id, count(*) AS n FROM phq9_checkins WHERE clinic_id = :clinic_id
    GROUP BY patient_id
),
sc AS (
    SELECT patient_id, max(id) AS id FROM eligibility_screenings
    WHERE clinic_id = :clinic_id AND eligible GROUP BY patient_id
),
p AS (
    SELECT pp.user_id, pp.bipolar, pp.phase, pp.acute_target_sessions AS target,
           pp.baseline_instrument, pp.baseline_score,
           array_to_string(ARRAY(
               SELECT jsonb_array_elements_text(es.answers -> 'prior_inadequate_response')
               ORDER BY 1), ',') AS prior,
           coalesce(agg.n, 0) AS n, agg.first_at, coalesce(agg.dose_off, 0) AS dose_off,
           coalesce(agg.duration_off, 0) AS duration_off, coalesce(cc.n, 0) AS checkins,
           CASE WHEN agg.n >= pp.acute_target_sessions THEN agg.at_target
                WHEN pp.phase <> 'acute' THEN agg.last_at END AS acute_end
    FROM patients pp
    JOIN users u ON u.id = pp.user_id
    LEFT JOIN agg ON agg.patient_id = pp.user_id
    LEFT JOIN cc ON cc.patient_id = pp.user_id
    LEFT JOIN sc ON sc.patient_id = pp.user_id
    LEFT JOIN eligibility_screenings es ON es.id = sc.id
    WHERE pp.clinic_id = :clinic_id AND u.deleted_at IS NULL
)
SELECT p.user_id, p.bipolar, p.phase, p.target, p.baseline_instrument, p.baseline_score,
       p.prior, p.n, p.first_at, p.acute_end, p.dose_off, p.duration_off,
       p.checkins,
       b.answered_at, b.total, done.answered_at, done.total,
       {", ".join(f"f{m}.answered_at, f{m}.total" for m in cohort.FOLLOW_UP_MONTHS)}
FROM p
{_window("b", "'-infinity'", "coalesce(p.first_at - interval '1 microsecond', 'infinity')", "DESC")}
{_window("done", "p.acute_end", f"p.acute_end + interval '{cohort.COMPLETION_WINDOW.days} days'")}
{"".join(_follow_up(m) for m in cohort.FOLLOW_UP_MONTHS)}
ORDER BY p.user_id
"""  # noqa: S608 - built from constants; every value is a bound parameter


def _picked_courses(session: Session, *, clinic_id: int, secret: str) -> list[cohort.Course]:
    """PostgreSQL: one statement; Python gets a dozen values per patient."""
    courses = []
    params = {
        "clinic_id": clinic_id,
        "dose": cohort.PROTOCOL_DOSE_MG_PER_KG,
        "dose_tolerance": cohort.PROTOCOL_DOSE_MG_PER_KG * cohort.DOSE_TOLERANCE + 1e-9,
        "min_minutes": cohort.INFUSION_MINUTES[0],
        "max_minutes": cohort.INFUSION_MINUTES[1],
    }
    # The planner's cost (thousands of index probes) would switch JIT compilation on, which
    # costs more than the query itself (~1.8 s measured at 10,000 patients): off for this one.
    session.execute(text("SET LOCAL jit = off"))
    # Times come back in UTC, as the arithmetic compares them.
    session.execute(text("SET LOCAL timezone = 'UTC'"))
    for row in session.execute(text(PICKED_SQL), params).all():
        (pid, bipolar, phase, target, instrument, score, prior, n, first_at, acute_end,
         dose_off, duration_off, count, *picked) = row  # fmt: skip
        points = {
            cohort.Checkin(_utc(at), total)
            for at, total in zip(picked[0::2], picked[1::2], strict=True)
            if at is not None
        }
        stopped_early = n < target and acute_end is not None
        courses.append(
            cohort.Course(
                key=pseudonym(secret, pid),
                bipolar=bool(bipolar),
                prior_failures=tuple(prior.split(",")) if prior else (),
                phase=phase,
                acute_target=target,
                screening_instrument=instrument,
                screening_score=score,
                checkins=tuple(sorted(points)),
                checkin_count=count,
                acute=cohort.AcuteCourse(
                    sessions=n,
                    first_session_at=_utc(first_at) if first_at is not None else None,
                    ended_at=_utc(acute_end) if acute_end is not None else None,
                    stopped_early=stopped_early,
                    deviations={
                        "dose_off_protocol": int(dose_off),
                        "infusion_duration": int(duration_off),
                    },
                ),
            )
        )
    return courses


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def _prior(answers: Any) -> tuple[str, ...]:
    return tuple(
        str(m)
        for m in sorted((answers or {}).get("prior_inadequate_response") or [])
        if isinstance(m, str)
    )


def load_courses(session: Session, *, clinic_id: int, secret: str) -> list[cohort.Course]:
    """Every patient of the clinic as a plain Course, in one round trip (no N+1)."""
    if is_postgresql(session):
        return _picked_courses(session, clinic_id=clinic_id, secret=secret)
    # SQLite (one clinic, the embedded default): every check-in, aggregated per patient.
    courses = []
    for row in session.execute(_courses_query(clinic_id)):
        pid, bipolar, phase, target, instrument, score, answers, c_points, s_points = row
        # Sorted by (answered time, id), as the rest of Tandem orders check-ins.
        c_rows = sorted((int(a), int(i), int(t)) for a, i, t in _points(c_points))
        s_rows = sorted(
            (int(a), int(i), _num(dose), _num(minutes)) for a, i, dose, minutes in _points(s_points)
        )
        prior = _prior(answers)
        courses.append(
            cohort.Course(
                key=pseudonym(secret, pid),
                bipolar=bool(bipolar),
                prior_failures=prior,
                phase=phase,
                acute_target=target,
                screening_instrument=instrument,
                screening_score=score,
                checkins=tuple(cohort.Checkin(_when(a), t) for a, _, t in c_rows),
                sessions=tuple(
                    cohort.SessionGiven(_when(a), dose, None if minutes is None else int(minutes))
                    for a, _, dose, minutes in s_rows
                ),
            )
        )
    return courses


def _clinic_for(session: Session, *, viewer: User, clinic_id: int) -> Clinic:
    clinic = session.get(Clinic, clinic_id)
    if clinic is None or (viewer.role != Role.ADMIN and viewer.clinic_id != clinic_id):
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
