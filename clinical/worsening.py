"""Worsening (`worsening-2`): a PHQ-9 total well above the previous check-in or the baseline.

Part of the second-version outcome definitions (see clinical.outcomes); it raises a routine
flag (clinical.rules.phq9) rather than counting as an outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clinical.outcomes import Baseline

WORSENING_VERSION = "worsening-2"

# Worsening: this many points above the previous check-in or above the baseline.
WORSENING_POINTS = 5

WORSE_THAN_PREVIOUS = "previous"
WORSE_THAN_BASELINE = "baseline"


@dataclass(frozen=True, slots=True)
class Worsening:
    """A total at least WORSENING_POINTS above the previous check-in and/or the baseline."""

    against: tuple[str, ...]
    previous_total: int | None
    baseline: int | None
    points: int
    version: str = WORSENING_VERSION

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "against": list(self.against),
            "previous_total": self.previous_total,
            "baseline": self.baseline,
            "points": self.points,
            "version": self.version,
        }


def worsening(
    *,
    baseline: Baseline,
    previous_total: int | None,
    total: int,
    points: int = WORSENING_POINTS,
) -> Worsening | None:
    """Total >= previous + points, or >= baseline + points (a slow drift past the start)."""
    against: list[str] = []
    if previous_total is not None and total - previous_total >= points:
        against.append(WORSE_THAN_PREVIOUS)
    if baseline.score is not None and total - baseline.score >= points:
        against.append(WORSE_THAN_BASELINE)
    if not against:
        return None
    return Worsening(
        against=tuple(against),
        previous_total=previous_total,
        baseline=baseline.score,
        points=points,
    )
