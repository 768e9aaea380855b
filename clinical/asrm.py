"""Altman Self-Rating Mania Scale (ASRM): five items 0-4 about the past week, total 0-20.

Source: Altman, Hedeker, Peterson & Davis 1997 — a total of 6 or more screens positive for
mania (sensitivity 85.5 %, specificity 87.3 %). No LOINC codes are assigned here: none is
known for these items, and codes are never invented.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clinical._checks import int_in_range, is_list_like
from clinical.errors import InvalidInput

VERSION = "asrm-1"

ITEM_COUNT = 5
ITEM_MIN = 0
ITEM_MAX = 4
MAX_TOTAL = ITEM_COUNT * ITEM_MAX
POSITIVE_CUTOFF = 6


@dataclass(frozen=True, slots=True)
class Item:
    """One ASRM item; `loinc` is None because no code is known."""

    number: int
    construct: str
    loinc: str | None = None


ITEMS: tuple[Item, ...] = (
    Item(1, "Positive or cheerful mood"),
    Item(2, "Self-confidence"),
    Item(3, "Need for sleep"),
    Item(4, "Talkativeness"),
    Item(5, "Activity"),
)


@dataclass(frozen=True, slots=True)
class AsrmScore:
    """A scored ASRM; `positive` means total >= POSITIVE_CUTOFF."""

    total: int
    positive: bool
    answers: tuple[int, ...]
    version: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "total": self.total,
            "positive": self.positive,
            "answers": list(self.answers),
            "version": self.version,
        }


def validate_asrm(
    answers: object, *, path: str = "asrm"
) -> tuple[tuple[int, ...], dict[str, list[str]]]:
    """Check five answers 0-4 (none may be skipped); return the values and errors by path."""
    errors: dict[str, list[str]] = {}
    values: list[int] = []
    if not is_list_like(answers):
        return (), {path: [f"Expected a list of {ITEM_COUNT} answers."]}
    if len(answers) != ITEM_COUNT:
        errors[path] = [f"Expected {ITEM_COUNT} answers, got {len(answers)}."]
    for index, answer in enumerate(answers):
        if int_in_range(answer, ITEM_MIN, ITEM_MAX):
            values.append(answer)
        else:
            errors[f"{path}.{index}"] = [f"Must be an integer from {ITEM_MIN} to {ITEM_MAX}."]
    return tuple(values), errors


def score_asrm(answers: Sequence[object]) -> AsrmScore:
    """Validate and score five ASRM answers, each an integer 0-4."""
    values, errors = validate_asrm(answers)
    if errors:
        raise InvalidInput(errors)
    return asrm_from_values(values)


def asrm_from_values(values: tuple[int, ...]) -> AsrmScore:
    """Score answers that have already passed validate_asrm."""
    total = sum(values)
    return AsrmScore(
        total=total, positive=total >= POSITIVE_CUTOFF, answers=values, version=VERSION
    )
