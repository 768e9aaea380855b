"""PHQ-9 depression questionnaire: items, LOINC codes, strict scoring, prorating and severity.

Sources: Kroenke, Spitzer & Williams 2001 (items, 0-3 answers, severity bands); LOINC panel
44249-1 with answer lists LL358-3 and LL359-1; NHS Data Dictionary (prorate when 1-2 items
are missing, refuse with 3 or more). The PHQ-9 is Pfizer copyright, free to reproduce.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clinical._checks import int_in_range, is_list_like, is_strict_int
from clinical.errors import InvalidInput

VERSION = "phq9-1"

PANEL_LOINC = "44249-1"
TOTAL_LOINC = "44261-6"
DIFFICULTY_LOINC = "69722-7"

ITEM_COUNT = 9
ITEM_MIN = 0
ITEM_MAX = 3
MAX_TOTAL = ITEM_COUNT * ITEM_MAX
MAX_SKIPPED = 2
ITEM9_INDEX = 8

ANSWER_LIST_LOINC = "LL358-3"
ANSWER_LABELS: tuple[str, ...] = (
    "Not at all",
    "Several days",
    "More than half the days",
    "Nearly every day",
)
ANSWER_LOINC: dict[int, str] = {0: "LA6568-5", 1: "LA6569-3", 2: "LA6570-1", 3: "LA6571-9"}

# Item 10's LOINC answer codes are not in numeric order: "very" is LA6575-0, "extremely" LA6574-3.
DIFFICULTY_ANSWER_LIST_LOINC = "LL359-1"
DIFFICULTY_LABELS: tuple[str, ...] = (
    "Not difficult at all",
    "Somewhat difficult",
    "Very difficult",
    "Extremely difficult",
)
DIFFICULTY_ANSWER_LOINC: dict[int, str] = {
    0: "LA6572-7",
    1: "LA6573-5",
    2: "LA6575-0",
    3: "LA6574-3",
}

MINIMAL = "minimal"
MILD = "mild"
MODERATE = "moderate"
MODERATELY_SEVERE = "moderately_severe"
SEVERE = "severe"

# (lowest total, highest total, band) — Kroenke 2001.
SEVERITY_BANDS: tuple[tuple[int, int, str], ...] = (
    (0, 4, MINIMAL),
    (5, 9, MILD),
    (10, 14, MODERATE),
    (15, 19, MODERATELY_SEVERE),
    (20, 27, SEVERE),
)


@dataclass(frozen=True, slots=True)
class Item:
    """One scored PHQ-9 item."""

    number: int
    construct: str
    loinc: str


ITEMS: tuple[Item, ...] = (
    Item(1, "Little interest or pleasure in doing things", "44250-9"),
    Item(2, "Feeling down, depressed, or hopeless", "44255-8"),
    Item(3, "Trouble falling or staying asleep, or sleeping too much", "44259-0"),
    Item(4, "Feeling tired or having little energy", "44254-1"),
    Item(5, "Poor appetite or overeating", "44251-7"),
    Item(6, "Feeling bad about yourself, or that you are a failure", "44258-2"),
    Item(7, "Trouble concentrating on things", "44252-5"),
    Item(8, "Moving or speaking slowly, or being fidgety or restless", "44253-3"),
    Item(9, "Thoughts that you would be better off dead, or of hurting yourself", "44260-8"),
)


@dataclass(frozen=True, slots=True)
class Phq9Score:
    """A scored PHQ-9; `answers` keeps None for skipped items."""

    total: int
    prorated: bool
    answered: int
    severity: str
    item9: int | None
    answers: tuple[int | None, ...]
    difficulty: int | None
    version: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "total": self.total,
            "prorated": self.prorated,
            "answered": self.answered,
            "severity": self.severity,
            "item9": self.item9,
            "answers": list(self.answers),
            "difficulty": self.difficulty,
            "version": self.version,
        }


def severity(total: int) -> str:
    """Severity band of a PHQ-9 total (0-27)."""
    if is_strict_int(total):
        for low, high, band in SEVERITY_BANDS:
            if low <= total <= high:
                return band
    raise InvalidInput({"total": [f"Must be an integer from 0 to {MAX_TOTAL}."]})


def prorate(answered_sum: int, answered: int) -> int:
    """Scale a partial sum to nine items, rounding half up with exact integer arithmetic."""
    if answered <= 0:
        raise ValueError("answered must be positive.")
    # round_half_up(s * 9 / a) == floor((2 * s * 9 + a) / (2 * a)) for non-negative s.
    return (2 * answered_sum * ITEM_COUNT + answered) // (2 * answered)


def score_phq9(answers: Sequence[object], difficulty: object = None) -> Phq9Score:
    """Validate and score nine answers (0-3 or None when skipped) and item 10 (0-3 or None)."""
    errors: dict[str, list[str]] = {}
    item_message = f"Must be an integer from {ITEM_MIN} to {ITEM_MAX}, or null when skipped."
    values: list[int | None] = []
    if not is_list_like(answers):
        errors["answers"] = [f"Expected a list of {ITEM_COUNT} answers."]
    else:
        if len(answers) != ITEM_COUNT:
            errors["answers"] = [f"Expected {ITEM_COUNT} answers, got {len(answers)}."]
        for index, answer in enumerate(answers):
            if answer is None:
                values.append(None)
            elif int_in_range(answer, ITEM_MIN, ITEM_MAX):
                values.append(answer)
            else:
                errors[f"answers.{index}"] = [item_message]
        skipped = sum(1 for value in values if value is None)
        if "answers" not in errors and skipped > MAX_SKIPPED:
            errors["answers"] = [
                f"At most {MAX_SKIPPED} answers may be skipped; {skipped} were skipped."
            ]
    if difficulty is not None and not int_in_range(difficulty, ITEM_MIN, ITEM_MAX):
        errors["difficulty"] = [f"Must be an integer from {ITEM_MIN} to {ITEM_MAX}, or null."]
    if errors:
        raise InvalidInput(errors)

    given = [value for value in values if value is not None]
    answered = len(given)
    prorated = answered < ITEM_COUNT
    total = prorate(sum(given), answered) if prorated else sum(given)
    return Phq9Score(
        total=total,
        prorated=prorated,
        answered=answered,
        severity=severity(total),
        item9=values[ITEM9_INDEX],
        answers=tuple(values),
        difficulty=difficulty if is_strict_int(difficulty) else None,
        version=VERSION,
    )
