"""A patient's PHQ-9 history read for outcomes: baseline, previous total, best total, summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ScalarSelect, bindparam, func, select
from sqlalchemy.orm import Session

from clinical import outcomes
from store.models import PatientProfile
from store.reports import Phq9Checkin, SymptomReportRecord


@dataclass(frozen=True, slots=True)
class PriorTotals:
    """What the rules need from the check-ins answered before a new one."""

    previous: int | None
    first: int | None
    best: int | None


def _prior_total_columns() -> tuple[ScalarSelect[Any], ...]:
    earlier = select(Phq9Checkin.total).where(
        Phq9Checkin.patient_id == bindparam("prior_patient_id"),
        Phq9Checkin.answered_at <= bindparam("prior_before"),
    )
    lowest = select(func.min(Phq9Checkin.total)).where(
        Phq9Checkin.patient_id == bindparam("prior_patient_id"),
        Phq9Checkin.answered_at <= bindparam("prior_before"),
    )
    return (
        earlier.order_by(Phq9Checkin.answered_at.desc(), Phq9Checkin.id.desc())
        .limit(1)
        .scalar_subquery(),
        earlier.order_by(Phq9Checkin.answered_at.asc(), Phq9Checkin.id.asc())
        .limit(1)
        .scalar_subquery(),
        lowest.scalar_subquery(),
    )


# Previous, first and lowest totals answered up to a moment, as scalar subqueries that callers
# add to a query they make anyway (no extra round trip). Built once: constructing them per
# request was a measurable part of a check-in's cost. Bind with prior_params().
PRIOR_TOTAL_COLUMNS = _prior_total_columns()


def prior_params(*, patient_id: int, before: datetime) -> dict[str, Any]:
    """The bind values PRIOR_TOTAL_COLUMNS needs."""
    return {"prior_patient_id": patient_id, "prior_before": before}


def prior_totals_from(row: Sequence[Any]) -> PriorTotals:
    """PriorTotals from the three values of PRIOR_TOTAL_COLUMNS, in order."""
    previous, first, best = row
    return PriorTotals(previous=previous, first=first, best=best)


_PRIOR_TOTALS = select(*PRIOR_TOTAL_COLUMNS)


def prior_totals(session: Session, *, patient_id: int, before: datetime) -> PriorTotals:
    """Previous, first and lowest totals of check-ins answered up to `before`, in one query."""
    row = session.execute(_PRIOR_TOTALS, prior_params(patient_id=patient_id, before=before)).one()
    return prior_totals_from(tuple(row))


def baseline_for(profile: PatientProfile, *, first_checkin: int | None) -> int | None:
    """The enrolment PHQ-9 when documented, else the first check-in's total."""
    return outcomes.choose_baseline(
        screening_phq9=profile.baseline_phq9, first_checkin=first_checkin
    )


def summary_after(
    *, baseline: int | None, best_before: int | None, total: int
) -> outcomes.OutcomeSummary:
    """The summary once `total` is recorded, knowing only the lowest earlier total.

    A lower total is always at least as much of a response (is_response is monotone), so
    "any earlier check-in responded" is the same question as "the lowest one responded".
    """
    totals = [total] if best_before is None else [best_before, total]
    return outcomes.summarize(baseline=baseline, totals=totals)


def summary(session: Session, *, profile: PatientProfile) -> outcomes.OutcomeSummary:
    """The patient's outcome summary over every check-in, in answered order."""
    totals = list(
        session.scalars(
            select(Phq9Checkin.total)
            .where(Phq9Checkin.patient_id == profile.user_id)
            .order_by(Phq9Checkin.answered_at, Phq9Checkin.id)
        )
    )
    baseline = baseline_for(profile, first_checkin=totals[0] if totals else None)
    return outcomes.summarize(baseline=baseline, totals=totals)


def latest_checkin(session: Session, *, patient_id: int) -> Phq9Checkin | None:
    """The most recently answered PHQ-9."""
    return session.scalars(
        select(Phq9Checkin)
        .where(Phq9Checkin.patient_id == patient_id)
        .order_by(Phq9Checkin.answered_at.desc(), Phq9Checkin.id.desc())
        .limit(1)
    ).first()


def latest_symptom_report(session: Session, *, patient_id: int) -> SymptomReportRecord | None:
    """The most recently answered post-session report."""
    return session.scalars(
        select(SymptomReportRecord)
        .where(SymptomReportRecord.patient_id == patient_id)
        .order_by(SymptomReportRecord.answered_at.desc(), SymptomReportRecord.id.desc())
        .limit(1)
    ).first()


# --- Outcome definitions v2 -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Course:
    """A patient's PHQ-9 history read for the v2 definitions: points, first session, baseline."""

    points: list[outcomes.Phq9Point]
    first_session_at: datetime | None
    baseline: outcomes.Baseline


def first_session_at(session: Session, *, patient_id: int) -> datetime | None:
    """When the patient's first treatment session started (None before any)."""
    from store.schedule import TreatmentSession

    started: datetime | None = session.scalar(
        select(func.min(TreatmentSession.started_at)).where(
            TreatmentSession.patient_id == patient_id
        )
    )
    return started


def _screening(profile: PatientProfile) -> tuple[str | None, int | None]:
    # baseline_phq9 is the screening's PHQ-9 score (None for a MADRS screening).
    if profile.baseline_phq9 is not None:
        return "PHQ-9", profile.baseline_phq9
    return profile.baseline_instrument, None


def course(
    session: Session,
    *,
    profile: PatientProfile,
    before: datetime | None = None,
    extra: Sequence[outcomes.Phq9Point] = (),
) -> Course:
    """The patient's check-ins (answered up to `before`, plus `extra`) and their v2 baseline."""
    query = select(Phq9Checkin.answered_at, Phq9Checkin.total).where(
        Phq9Checkin.patient_id == profile.user_id
    )
    if before is not None:
        query = query.where(Phq9Checkin.answered_at <= before)
    rows = session.execute(query.order_by(Phq9Checkin.answered_at, Phq9Checkin.id)).all()
    points = [outcomes.Phq9Point(at=row[0], total=row[1]) for row in rows] + list(extra)
    started = first_session_at(session, patient_id=profile.user_id)
    instrument, score = _screening(profile)
    baseline = outcomes.select_baseline(
        checkins=points,
        first_session_at=started,
        screening_instrument=instrument,
        screening_score=score,
    )
    return Course(points=points, first_session_at=started, baseline=baseline)


def course_summary(session: Session, *, profile: PatientProfile) -> outcomes.CourseOutcome:
    """The patient's v2 outcome over every check-in."""
    current = course(session, profile=profile)
    totals = outcomes.post_treatment_totals(
        current.points, first_session_at=current.first_session_at
    )
    return outcomes.summarize_course(baseline=current.baseline, totals=totals)
