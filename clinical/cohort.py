"""Cohort outcome arithmetic: one clinic's course results beside the published figures.

Pure functions over plain values (no clock reads: `now` is passed in). The definitions are
the second version of the clinical rules, taken from clinical.outcomes (select_baseline,
response, remission: OUTCOMES_VERSION "outcomes-2"):

- The PHQ-9 **baseline** is the latest PHQ-9 answered before the first session, else the
  screening's PHQ-9 score. A post-treatment check-in is never a baseline.
- **Response** (total <= 50 % of baseline) and **remission** (total < 5) are only defined
  from a baseline >= 10 (HEDIS's elevated index score); a patient with no baseline, or one
  below 10, is counted under `not_evaluable` with the reason instead of being dropped.
- The acute course ends with its last acute session, however it ended (target reached or
  stopped early by a clinician); the **completion PHQ-9** is the first one answered after
  that session (within COMPLETION_WINDOW); follow-ups (1, 3, 6, 12, 24 months) count from
  the day the acute phase ended.
- **Sustained remission at m months**: remission at completion and at every follow-up
  assessment up to m. A follow-up assessment is the first PHQ-9 answered from 14 days before
  to 30 days after the follow-up date; a missing one leaves the patient out of that
  follow-up's n (reported as `missing`), never counted as a success or a failure.

Rates are percentages with Wilson score 95 % intervals (Wilson 1927; Brown, Cai & DasGupta
2001 recommend it over the Wald interval for small n).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, NamedTuple

from clinical import outcomes
from clinical.calendar import add_months

EVALUABLE_BASELINE_MIN = outcomes.MIN_BASELINE
FOLLOW_UP_MONTHS: tuple[int, ...] = (1, 3, 6, 12, 24)
SUSTAINED_HEADLINE_MONTHS = 24
COMPLETION_WINDOW = timedelta(days=14)
FOLLOW_UP_BEFORE = timedelta(days=14)
FOLLOW_UP_AFTER = timedelta(days=30)
Z95 = 1.959963984540054

PROTOCOL_DOSE_MG_PER_KG = 0.5
DOSE_TOLERANCE = 0.10
INFUSION_MINUTES = (20, 60)

# Not evaluable, in the order they are checked.
NO_BASELINE = outcomes.NO_PHQ9_BASELINE
BASELINE_BELOW_10 = outcomes.BASELINE_BELOW_10
ACUTE_NOT_COMPLETED = "acute_not_completed"
NO_COMPLETION_CHECKIN = "no_completion_checkin"
REASONS: tuple[str, ...] = (
    NO_BASELINE,
    BASELINE_BELOW_10,
    ACUTE_NOT_COMPLETED,
    NO_COMPLETION_CHECKIN,
)

PUBLISHED: dict[str, Any] = {
    "mean_percent_reduction": 34.5,
    "response_rate": 19.0,
    "remission_rate": 9.5,
    "source": (
        "Best SRD, Pavel DG, Haustrup N. Combination therapy with transcranial magnetic "
        "stimulation and ketamine for treatment-resistant depression: a long-term "
        "retrospective review of clinical use. Heliyon 2019;5:e02187 (28 patients; figures "
        "for ketamine after TMS failure; sustained remission at 2 years with the combination)."
    ),
}


class Checkin(NamedTuple):
    """One PHQ-9 total and when it was answered (a tuple: a cohort holds hundreds of thousands)."""

    at: datetime
    total: int


class SessionGiven(NamedTuple):
    """One treatment session as recorded: its start, dose and infusion length."""

    at: datetime
    mg_per_kg: float | None = None
    infusion_minutes: int | None = None


@dataclass(frozen=True, slots=True)
class Course:
    """Everything the report needs about one patient, as plain values."""

    key: str
    bipolar: bool
    prior_failures: tuple[str, ...]
    phase: str
    acute_target: int
    screening_instrument: str | None
    screening_score: int | None
    # Every check-in, or (from a database that picks them) at least the latest pre-treatment
    # one and the first in each window evaluate() looks at: the answer is the same.
    checkins: tuple[Checkin, ...]
    sessions: tuple[SessionGiven, ...] = ()
    # Deviations the store recorded (e.g. vitals gaps), by kind; added to the ones derived here.
    recorded_deviations: Mapping[str, int] = field(default_factory=dict)
    # The sessions already summarised (then `sessions` is not read) and the true number of
    # check-ins when `checkins` is a picked subset.
    acute: AcuteCourse | None = None
    checkin_count: int | None = None


class AcuteCourse(NamedTuple):
    """What the sessions say: how many, the first, when the acute course ended, deviations."""

    sessions: int
    first_session_at: datetime | None
    ended_at: datetime | None
    stopped_early: bool
    deviations: dict[str, int]


def acute_course(sessions: Sequence[SessionGiven], *, target: int, phase: str) -> AcuteCourse:
    """The acute course ends with its target-th session, or with the last one given when a
    clinician moved the patient on before the target (stopped early)."""
    ordered = sorted(sessions, key=lambda s: s.at)
    reached = len(ordered) >= target
    stopped_early = not reached and phase != "acute" and bool(ordered)
    ended = ordered[min(target, len(ordered)) - 1].at if reached or stopped_early else None
    return AcuteCourse(
        sessions=len(ordered),
        first_session_at=ordered[0].at if ordered else None,
        ended_at=ended,
        stopped_early=stopped_early,
        deviations=session_deviations(ordered),
    )


@dataclass(frozen=True, slots=True)
class PatientOutcome:
    """One patient's row of the report."""

    key: str
    bipolar: bool
    prior_failures: tuple[str, ...]
    phase: str
    sessions: int
    checkins: int
    baseline: int | None
    baseline_source: str | None
    acute_completed: bool
    acute_stopped_early: bool
    acute_ended_at: datetime | None
    completion_total: int | None
    percent_reduction: float | None
    response: bool | None
    remission: bool | None
    not_evaluable: str | None
    # Month -> True/False, or None when not yet due or the assessment is missing.
    sustained_remission: dict[int, bool | None]
    follow_up_missing: dict[int, bool]
    deviations: dict[str, int]


@dataclass(frozen=True, slots=True)
class Rate:
    """successes / n as a percentage with its Wilson 95 % interval (None when n is 0)."""

    successes: int
    n: int
    rate: float | None
    ci95: tuple[float, float] | None

    def as_dict(self) -> dict[str, Any]:
        """The contract's {"rate", "ci95", "n"} (plus the count)."""
        return {
            "rate": self.rate,
            "ci95": list(self.ci95) if self.ci95 is not None else None,
            "n": self.n,
            "count": self.successes,
        }


def round1(value: float | Fraction) -> float:
    """One decimal, half away from zero (as the rest of Tandem rounds percentages)."""
    exact = (
        Decimal(value.numerator) / Decimal(value.denominator)
        if isinstance(value, Fraction)
        else Decimal(str(value))
    )
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def wilson(successes: int, n: int, *, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for successes/n, in percent (one decimal); None when n is 0."""
    if n < 0 or not 0 <= successes <= n:
        raise ValueError("need 0 <= successes <= n")
    if n == 0:
        return None
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (round1(max(0.0, centre - half) * 100), round1(min(1.0, centre + half) * 100))


def rate(successes: int, n: int) -> Rate:
    """A Rate with its interval."""
    return Rate(
        successes=successes,
        n=n,
        rate=round1(Fraction(100 * successes, n)) if n else None,
        ci95=wilson(successes, n),
    )


def baseline_of(course: Course, first_session: datetime | None) -> outcomes.Baseline:
    """The honest PHQ-9 baseline (clinical.outcomes v2): never a post-treatment check-in."""
    # Only pre-treatment check-ins can be a baseline: pass those alone (the same answer,
    # without validating every later check-in of a long course again).
    return outcomes.select_baseline(
        checkins=[
            outcomes.Phq9Point(at=c.at, total=c.total)
            for c in course.checkins
            if first_session is None or c.at < first_session
        ],
        first_session_at=first_session,
        screening_instrument=course.screening_instrument,
        screening_score=course.screening_score,
    )


def session_deviations(sessions: Iterable[SessionGiven]) -> dict[str, int]:
    """Deviations readable from the session records themselves: dose and infusion length."""
    dose = duration = 0
    for s in sessions:
        if s.mg_per_kg is not None and abs(s.mg_per_kg - PROTOCOL_DOSE_MG_PER_KG) > (
            PROTOCOL_DOSE_MG_PER_KG * DOSE_TOLERANCE + 1e-9
        ):
            dose += 1
        if s.infusion_minutes is not None and not (
            INFUSION_MINUTES[0] <= s.infusion_minutes <= INFUSION_MINUTES[1]
        ):
            duration += 1
    return {"dose_off_protocol": dose, "infusion_duration": duration}


def _first_in(
    checkins: Sequence[Checkin], times: Sequence[datetime], lo: datetime, hi: datetime
) -> Checkin | None:
    """The first check-in answered after lo (exclusive) and at or before hi (times sorted)."""
    index = bisect_right(times, lo)
    if index < len(times) and times[index] <= hi:
        return checkins[index]
    return None


def evaluate(course: Course, *, now: datetime) -> PatientOutcome:
    """One patient's outcome under the second-version definitions."""
    checkins = sorted(course.checkins, key=lambda c: c.at)
    times = [c.at for c in checkins]
    acute = course.acute or acute_course(
        course.sessions, target=course.acute_target, phase=course.phase
    )
    found_baseline = baseline_of(course, acute.first_session_at)
    baseline, source = found_baseline.score, found_baseline.source
    acute_end = acute.ended_at
    completion = (
        _first_in(checkins, times, acute_end, acute_end + COMPLETION_WINDOW)
        if acute_end is not None
        else None
    )
    reason = _not_evaluable(found_baseline, acute_end, completion)

    response = remission = None
    reduction: float | None = None
    sustained: dict[int, bool | None] = dict.fromkeys(FOLLOW_UP_MONTHS)
    missing: dict[int, bool] = dict.fromkeys(FOLLOW_UP_MONTHS, False)
    if reason is None:
        assert baseline is not None and completion is not None and acute_end is not None
        response = outcomes.response(baseline=found_baseline, total=completion.total).value
        remission = outcomes.remission(baseline=found_baseline, total=completion.total).value
        reduction = round1(Fraction(100 * (baseline - completion.total), baseline))
        sustained, missing = _follow_ups(
            checkins, times, found_baseline, acute_end, broken=remission is not True, now=now
        )
    return PatientOutcome(
        key=course.key,
        bipolar=course.bipolar,
        prior_failures=course.prior_failures,
        phase=course.phase,
        sessions=acute.sessions,
        checkins=course.checkin_count if course.checkin_count is not None else len(checkins),
        baseline=baseline,
        baseline_source=source,
        acute_completed=acute_end is not None,
        acute_stopped_early=acute.stopped_early,
        acute_ended_at=acute_end,
        completion_total=completion.total if completion is not None else None,
        percent_reduction=reduction,
        response=response,
        remission=remission,
        not_evaluable=reason,
        sustained_remission=sustained,
        follow_up_missing=missing,
        deviations=_add_counts(dict(acute.deviations), course.recorded_deviations),
    )


def _not_evaluable(
    baseline: outcomes.Baseline, acute_end: datetime | None, completion: Checkin | None
) -> str | None:
    """Why no verdict can be given (one of REASONS, in their order), or None."""
    # The v2 gate: no verdict without a PHQ-9 baseline >= 10 (the reason says which).
    reason = outcomes.response(baseline=baseline, total=None).reason
    if reason == outcomes.NO_POST_TREATMENT_PHQ9:
        reason = None
    if reason is None and acute_end is None:
        reason = ACUTE_NOT_COMPLETED
    elif reason is None and completion is None:
        reason = NO_COMPLETION_CHECKIN
    return reason


def _follow_ups(
    checkins: Sequence[Checkin],
    times: Sequence[datetime],
    baseline: outcomes.Baseline,
    acute_end: datetime,
    *,
    broken: bool,
    now: datetime,
) -> tuple[dict[int, bool | None], dict[int, bool]]:
    """Sustained remission and missing assessments by month (`broken`: completion not remitted)."""
    sustained: dict[int, bool | None] = dict.fromkeys(FOLLOW_UP_MONTHS)
    missing: dict[int, bool] = dict.fromkeys(FOLLOW_UP_MONTHS, False)
    unknown = False
    for months in FOLLOW_UP_MONTHS:
        target = add_months(acute_end, months)
        found = _first_in(checkins, times, target - FOLLOW_UP_BEFORE, target + FOLLOW_UP_AFTER)
        if found is None and now < target + FOLLOW_UP_AFTER:
            break  # not due yet, nor any later follow-up
        if found is not None and not outcomes.remission(baseline=baseline, total=found.total).value:
            broken = True
        if found is None and not broken:
            unknown = True
        if broken:
            sustained[months] = False
        elif unknown:
            # A missing assessment while still in remission: not known, left out of n.
            missing[months] = True
        else:
            sustained[months] = True
    return sustained, missing


def _add_counts(into: dict[str, int], counts: Mapping[str, int]) -> dict[str, int]:
    """Add deviation counts by kind into `into` (returned)."""
    for kind, count in counts.items():
        into[kind] = into.get(kind, 0) + count
    return into


def _count(values: Iterable[bool | None]) -> Rate:
    known = [v for v in values if v is not None]
    return rate(sum(known), len(known))


def summarize(rows: Sequence[PatientOutcome]) -> dict[str, Any]:
    """The figures for one set of patients (the whole clinic or one group)."""
    evaluable = [o for o in rows if o.not_evaluable is None]
    reductions = [o.percent_reduction for o in evaluable if o.percent_reduction is not None]
    # Each reduction has one decimal: summed exactly as tenths (integers), then rounded once.
    mean = (
        round1(Fraction(sum(round(r * 10) for r in reductions), 10 * len(reductions)))
        if reductions
        else None
    )
    by_month = {
        str(m): {
            **_count(o.sustained_remission[m] for o in evaluable).as_dict(),
            "missing": sum(o.follow_up_missing[m] for o in evaluable),
        }
        for m in FOLLOW_UP_MONTHS
    }
    headline = dict(by_month[str(SUSTAINED_HEADLINE_MONTHS)])
    return {
        "patients": len(rows),
        "completed_acute": sum(o.acute_completed for o in rows),
        "stopped_early": sum(o.acute_stopped_early for o in rows),
        "evaluable": len(evaluable),
        "not_evaluable": {r: sum(o.not_evaluable == r for o in rows) for r in REASONS},
        "mean_percent_reduction": mean,
        "mean_percent_reduction_n": len(reductions),
        "response": _count(o.response for o in evaluable).as_dict(),
        "remission": _count(o.remission for o in evaluable).as_dict(),
        "sustained_remission": {
            **headline,
            "months": SUSTAINED_HEADLINE_MONTHS,
            "by_follow_up": by_month,
        },
    }


def _groups(
    rows: Sequence[PatientOutcome], keys: Callable[[PatientOutcome], Iterable[str]]
) -> dict[str, dict[str, Any]]:
    members: dict[str, list[PatientOutcome]] = {}
    for o in rows:
        for key in keys(o):
            members.setdefault(key, []).append(o)
    return {k: summarize(v) for k, v in sorted(members.items())}


def report(courses: Sequence[Course], *, now: datetime) -> dict[str, Any]:
    """The cohort report: overall figures, by group, deviations and the published figures."""
    rows = [evaluate(c, now=now) for c in courses]
    return report_from(rows)


def report_from(rows: Sequence[PatientOutcome]) -> dict[str, Any]:
    """The cohort report from already evaluated patients."""
    deviations: dict[str, int] = {}
    for o in rows:
        _add_counts(deviations, o.deviations)
    return {
        **summarize(rows),
        "by_group": {
            "bipolar": _groups(rows, lambda o: ["bipolar" if o.bipolar else "not_bipolar"]),
            # A patient who failed both TMS and ketamine is in both groups.
            "prior_failure": _groups(rows, lambda o: o.prior_failures or ("none",)),
            "phase": _groups(rows, lambda o: [o.phase]),
        },
        "protocol_deviations": {
            "total": sum(deviations.values()),
            "by_kind": dict(sorted(deviations.items())),
            "patients_with_any": sum(any(o.deviations.values()) for o in rows),
        },
        "published": dict(PUBLISHED),
        "definitions": {
            "baseline": "latest PHQ-9 before the first session, else the screening PHQ-9",
            "evaluable_baseline_min": EVALUABLE_BASELINE_MIN,
            "response": "completion PHQ-9 <= 50 % of baseline",
            "remission": f"completion PHQ-9 < {outcomes.REMISSION_BELOW}",
            "follow_up_months": list(FOLLOW_UP_MONTHS),
            "interval": "Wilson score 95 %",
        },
    }
