"""Outcome arithmetic on PHQ-9 totals: change from baseline, response, remission, relapse.

Definitions: response is a reduction of at least 50 % from baseline and remission a total
below 5 (NCQA/HEDIS depression measures); the minimal clinically important change is
5 points (Löwe et al. 2004). Relapse (a product rule, see CLINICAL.md): after an earlier
response, the total is back at 10 or more and less than 50 % below baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from clinical._checks import int_in_range, require_aware
from clinical.errors import InvalidInput
from clinical.phq9 import MAX_TOTAL

RESPONSE_REDUCTION = 0.5
REMISSION_BELOW = 5
RELAPSE_MIN_TOTAL = 10
MCID_POINTS = 5


@dataclass(frozen=True, slots=True)
class ChangeFromBaseline:
    """Current minus baseline (negative is better) and that change as a percent of baseline."""

    points: int
    percent: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"points": self.points, "percent": self.percent}


@dataclass(frozen=True, slots=True)
class OutcomeSummary:
    """Where a patient stands against baseline after their latest PHQ-9."""

    baseline: int | None
    latest: int | None
    change: ChangeFromBaseline | None
    response: bool
    remission: bool
    relapse: bool
    ever_responded: bool
    minimal_important_change: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "baseline": self.baseline,
            "latest": self.latest,
            "change": self.change.as_dict() if self.change is not None else None,
            "response": self.response,
            "remission": self.remission,
            "relapse": self.relapse,
            "ever_responded": self.ever_responded,
            "minimal_important_change": self.minimal_important_change,
        }


def change_from_baseline(*, baseline: int | None, current: int | None) -> ChangeFromBaseline | None:
    """Points and percent change (one decimal, half away from zero); None without both."""
    if baseline is None or current is None:
        return None
    points = current - baseline
    percent: float | None = None
    if baseline != 0:
        exact = Decimal(100 * points) / Decimal(baseline)
        percent = float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    return ChangeFromBaseline(points=points, percent=percent)


def is_response(*, baseline: int | None, total: int, reduction: float = RESPONSE_REDUCTION) -> bool:
    """True when total is at least `reduction` (a fraction) below a positive baseline."""
    if baseline is None or baseline <= 0:
        return False
    # Exact rational comparison, so exactly 50 % counts as a response.
    return Fraction(baseline - total) >= Fraction(str(reduction)) * baseline


def is_remission(*, total: int, below: int = REMISSION_BELOW) -> bool:
    """True when total < `below`."""
    return total < below


def is_relapse(
    *,
    baseline: int | None,
    total: int,
    responded_before: bool,
    min_total: int = RELAPSE_MIN_TOTAL,
    reduction: float = RESPONSE_REDUCTION,
) -> bool:
    """After an earlier response: total >= min_total and no longer a response."""
    return (
        responded_before
        and baseline is not None
        and total >= min_total
        and not is_response(baseline=baseline, total=total, reduction=reduction)
    )


def is_minimal_important_change(
    change: ChangeFromBaseline | None, *, points: int = MCID_POINTS
) -> bool:
    """True when the change, either way, is at least `points`."""
    return change is not None and abs(change.points) >= points


def choose_baseline(*, screening_phq9: int | None, first_checkin: int | None) -> int | None:
    """The enrolment screening's PHQ-9 when documented, else the first check-in's total."""
    return screening_phq9 if screening_phq9 is not None else first_checkin


def summarize(*, baseline: int | None, totals: Sequence[int]) -> OutcomeSummary:
    """Summarise chronological PHQ-9 totals taken after baseline (latest last)."""
    errors: dict[str, list[str]] = {}
    message = f"Must be an integer from 0 to {MAX_TOTAL}."
    if baseline is not None and not int_in_range(baseline, 0, MAX_TOTAL):
        errors["baseline"] = [message]
    for index, total in enumerate(totals):
        if not int_in_range(total, 0, MAX_TOTAL):
            errors[f"totals.{index}"] = [message]
    if errors:
        raise InvalidInput(errors)

    if not totals:
        return OutcomeSummary(
            baseline=baseline,
            latest=None,
            change=None,
            response=False,
            remission=False,
            relapse=False,
            ever_responded=False,
            minimal_important_change=False,
        )
    latest = totals[-1]
    responded_before = any(is_response(baseline=baseline, total=t) for t in totals[:-1])
    response = is_response(baseline=baseline, total=latest)
    change = change_from_baseline(baseline=baseline, current=latest)
    return OutcomeSummary(
        baseline=baseline,
        latest=latest,
        change=change,
        response=response,
        remission=is_remission(total=latest),
        relapse=is_relapse(baseline=baseline, total=latest, responded_before=responded_before),
        ever_responded=responded_before or response,
        minimal_important_change=is_minimal_important_change(change),
    )


# ---------------------------------------------------------------------------------------------
# Outcome definitions, second version (December 2026).
#
# The first version reported response and remission for patients whose baseline was never
# elevated, used a post-treatment check-in as the baseline, and called a single bad total a
# relapse. The functions below replace it for new records; the v1 functions above stay so
# that records made under v1 can still be explained. Every result carries its version.
# Worsening, the one v2 definition that raises a flag rather than an outcome, is in
# clinical.worsening.
# ---------------------------------------------------------------------------------------------

OUTCOMES_VERSION = "outcomes-2"
BASELINE_VERSION = "baseline-2"
RELAPSE_VERSION = "relapse-2"

# HEDIS counts response and remission only from an elevated index score (> 9).
MIN_BASELINE = 10

PRE_TREATMENT_PHQ9 = "pre_treatment_phq9"
SCREENING_PHQ9 = "screening_phq9"
BASELINE_SOURCES: tuple[str, ...] = (PRE_TREATMENT_PHQ9, SCREENING_PHQ9)

# Reasons a verdict is null (machine-readable; shown to clinicians as they are).
NO_PHQ9_BASELINE = "no_phq9_baseline"
BASELINE_BELOW_10 = "baseline_below_10"
NO_POST_TREATMENT_PHQ9 = "no_post_treatment_phq9"

RELAPSE_NONE = "none"
RELAPSE_RECHECK = "recheck"
RELAPSE_CONFIRMED = "confirmed"
RELAPSE_STATUSES: tuple[str, ...] = (RELAPSE_NONE, RELAPSE_RECHECK, RELAPSE_CONFIRMED)


@dataclass(frozen=True, slots=True)
class Phq9Point:
    """One answered PHQ-9: when it was answered and its (possibly prorated) total."""

    at: datetime
    total: int


@dataclass(frozen=True, slots=True)
class Baseline:
    """The PHQ-9 baseline outcomes are measured from, where it came from, or why there is none."""

    score: int | None
    source: str | None
    at: datetime | None
    reason: str | None
    version: str = BASELINE_VERSION

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "score": self.score,
            "source": self.source,
            "at": self.at.isoformat() if self.at is not None else None,
            "reason": self.reason,
            "version": self.version,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """A yes/no outcome, or None with the reason it cannot honestly be given."""

    value: bool | None
    reason: str | None
    version: str = OUTCOMES_VERSION

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"value": self.value, "reason": self.reason, "version": self.version}


@dataclass(frozen=True, slots=True)
class CourseOutcome:
    """Where a patient stands after their latest post-treatment PHQ-9, by the v2 definitions."""

    baseline: Baseline
    latest: int | None
    change: ChangeFromBaseline | None
    response: Verdict
    remission: Verdict
    relapse: str
    ever_responded: bool
    minimal_important_change: bool
    version: str = OUTCOMES_VERSION

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form; `response`/`remission` are true, false or null (see the reasons)."""
        return {
            "baseline": self.baseline.score,
            "baseline_source": self.baseline.source,
            "baseline_reason": self.baseline.reason,
            "latest": self.latest,
            "change": self.change.as_dict() if self.change is not None else None,
            "response": self.response.value,
            "response_reason": self.response.reason,
            "remission": self.remission.value,
            "remission_reason": self.remission.reason,
            "relapse": self.relapse != RELAPSE_NONE,
            "relapse_status": self.relapse,
            "ever_responded": self.ever_responded,
            "minimal_important_change": self.minimal_important_change,
            "version": self.version,
        }


def _check_total(errors: dict[str, list[str]], path: str, value: object) -> None:
    if not int_in_range(value, 0, MAX_TOTAL):
        errors[path] = [f"Must be an integer from 0 to {MAX_TOTAL}."]


def select_baseline(
    *,
    checkins: Sequence[Phq9Point],
    first_session_at: datetime | None,
    screening_instrument: str | None,
    screening_score: int | None,
) -> Baseline:
    """The latest PHQ-9 answered before the first session; else the screening's PHQ-9 score.

    Before any session has started, every check-in is pre-treatment. A check-in answered at or
    after the first session's start is never a baseline: with a MADRS (or no) screening and no
    pre-treatment PHQ-9 the baseline is None with the reason `no_phq9_baseline`.
    """
    errors: dict[str, list[str]] = {}
    for index, point in enumerate(checkins):
        require_aware(f"checkins.{index}.at", point.at)
        _check_total(errors, f"checkins.{index}.total", point.total)
    if first_session_at is not None:
        require_aware("first_session_at", first_session_at)
    if screening_score is not None and screening_instrument == "PHQ-9":
        _check_total(errors, "screening_score", screening_score)
    if errors:
        raise InvalidInput(errors)

    before = [p for p in checkins if first_session_at is None or p.at < first_session_at]
    if before:
        # Latest by answered time; among equal times the later in the given order wins.
        latest = max(enumerate(before), key=lambda pair: (pair[1].at, pair[0]))[1]
        return Baseline(score=latest.total, source=PRE_TREATMENT_PHQ9, at=latest.at, reason=None)
    if screening_instrument == "PHQ-9" and screening_score is not None:
        return Baseline(score=screening_score, source=SCREENING_PHQ9, at=None, reason=None)
    return Baseline(score=None, source=None, at=None, reason=NO_PHQ9_BASELINE)


def post_treatment_totals(
    checkins: Sequence[Phq9Point], *, first_session_at: datetime | None
) -> list[int]:
    """Totals answered at or after the first session's start, in answered order."""
    if first_session_at is None:
        return []
    require_aware("first_session_at", first_session_at)
    ordered = sorted(enumerate(checkins), key=lambda pair: (pair[1].at, pair[0]))
    return [p.total for _, p in ordered if p.at >= first_session_at]


def _not_measurable(baseline: Baseline) -> str | None:
    if baseline.score is None:
        return baseline.reason or NO_PHQ9_BASELINE
    if baseline.score < MIN_BASELINE:
        return BASELINE_BELOW_10
    return None


def response(*, baseline: Baseline, total: int | None) -> Verdict:
    """Baseline >= 10 and total <= 50 % of baseline; None with a reason otherwise."""
    reason = _not_measurable(baseline)
    if reason is None and total is None:
        reason = NO_POST_TREATMENT_PHQ9
    if reason is not None or baseline.score is None or total is None:
        return Verdict(value=None, reason=reason)
    # Exact integer comparison: 2 * total <= baseline is "at most half" with no rounding.
    return Verdict(value=2 * total <= baseline.score, reason=None)


def remission(*, baseline: Baseline, total: int | None) -> Verdict:
    """Baseline >= 10 and total < 5; None with a reason otherwise."""
    reason = _not_measurable(baseline)
    if reason is None and total is None:
        reason = NO_POST_TREATMENT_PHQ9
    if reason is not None or total is None:
        return Verdict(value=None, reason=reason)
    return Verdict(value=total < REMISSION_BELOW, reason=None)


def _relapse_candidates(baseline: Baseline, totals: Sequence[int]) -> list[bool]:
    """Per total: a response or remission came earlier, and this total is >= 10 and not one."""
    marks: list[bool] = []
    responded = False
    for total in totals:
        verdict = response(baseline=baseline, total=total)
        marks.append(responded and total >= RELAPSE_MIN_TOTAL and verdict.value is False)
        # Remission implies response when the baseline is >= 10 (total < 5 <= baseline / 2).
        responded = responded or verdict.value is True
    return marks


def relapse_status(*, baseline: Baseline, earlier_totals: Sequence[int], total: int) -> str:
    """`recheck` on the first bad total after a response, `confirmed` on the second in a row.

    `earlier_totals` are the post-treatment totals before this one, in answered order. A bad
    total is >= 10 and no longer a response, after an earlier response or remission.
    """
    errors: dict[str, list[str]] = {}
    for index, value in enumerate(earlier_totals):
        _check_total(errors, f"earlier_totals.{index}", value)
    _check_total(errors, "total", total)
    if errors:
        raise InvalidInput(errors)
    marks = _relapse_candidates(baseline, [*earlier_totals, total])
    if not marks[-1]:
        return RELAPSE_NONE
    if len(marks) >= 2 and marks[-2]:
        return RELAPSE_CONFIRMED
    return RELAPSE_RECHECK


def summarize_course(*, baseline: Baseline, totals: Sequence[int]) -> CourseOutcome:
    """The v2 outcome after chronological post-treatment `totals` (latest last)."""
    errors: dict[str, list[str]] = {}
    if baseline.score is not None:
        _check_total(errors, "baseline", baseline.score)
    for index, value in enumerate(totals):
        _check_total(errors, f"totals.{index}", value)
    if errors:
        raise InvalidInput(errors)
    latest = totals[-1] if totals else None
    change = change_from_baseline(baseline=baseline.score, current=latest)
    status = (
        relapse_status(baseline=baseline, earlier_totals=totals[:-1], total=totals[-1])
        if totals
        else RELAPSE_NONE
    )
    return CourseOutcome(
        baseline=baseline,
        latest=latest,
        change=change,
        response=response(baseline=baseline, total=latest),
        remission=remission(baseline=baseline, total=latest),
        relapse=status,
        ever_responded=any(response(baseline=baseline, total=t).value is True for t in totals),
        minimal_important_change=is_minimal_important_change(change),
    )
