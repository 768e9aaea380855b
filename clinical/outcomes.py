"""Outcome arithmetic on PHQ-9 totals: change from baseline, response, remission, relapse.

Definitions: response is a reduction of at least 50 % from baseline and remission a total
below 5 (NCQA/HEDIS depression measures); the minimal clinically important change is
5 points (Löwe et al. 2004). Relapse (a product rule, see CLINICAL.md): after an earlier
response, the total is back at 10 or more and less than 50 % below baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from clinical._checks import int_in_range
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
