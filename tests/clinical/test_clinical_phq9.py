"""PHQ-9 scoring: validation, severity bands, prorating and LOINC facts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinical import phq9
from clinical.errors import InvalidInput
from clinical.phq9 import score_phq9, severity


def answers_summing_to(total: int) -> list[int | None]:
    """Nine answers (0-3) adding up to `total`."""
    values = []
    for _ in range(9):
        value = min(3, total)
        values.append(value)
        total -= value
    return list(values)


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_severity_band_edges(total: int, band: str) -> None:
    assert severity(total) == band
    assert score_phq9(answers_summing_to(total)).severity == band


@pytest.mark.parametrize("total", [-1, 28, True, 4.0, "5"])
def test_severity_refuses_out_of_range(total: object) -> None:
    with pytest.raises(InvalidInput):
        severity(total)  # type: ignore[arg-type]


def test_complete_answers_are_summed() -> None:
    score = score_phq9([1, 2, 3, 0, 1, 2, 3, 0, 1], difficulty=2)
    assert score.total == 13
    assert not score.prorated
    assert score.answered == 9
    assert score.item9 == 1
    assert score.difficulty == 2
    assert score.answers == (1, 2, 3, 0, 1, 2, 3, 0, 1)
    assert score.version == phq9.VERSION == "phq9-1"
    assert score.as_dict()["answers"] == [1, 2, 3, 0, 1, 2, 3, 0, 1]


@pytest.mark.parametrize(
    ("answers", "total"),
    [
        # sum 13 over 8 answered = 14.625 -> 15
        ([3, 3, 3, 3, 1, 0, 0, 0, None], 15),
        # sum 4 over 8 = 4.5 -> 5 (half up, not banker's 4)
        ([1, 1, 1, 1, 0, 0, 0, 0, None], 5),
        # sum 12 over 8 = 13.5 -> 14 (banker's would also give 14)
        ([3, 3, 3, 3, 0, 0, 0, 0, None], 14),
        # sum 5 over 8 = 5.625 -> 6
        ([None, 1, 1, 1, 1, 1, 0, 0, 0], 6),
        # sum 1 over 8 = 1.125 -> 1
        ([1, 0, 0, 0, 0, 0, 0, 0, None], 1),
        # sum 7 over 7 = 9 exactly
        ([1, 1, 1, 1, 1, 1, 1, None, None], 9),
        # sum 1 over 7 = 1.2857 -> 1; sum 3 over 7 = 3.857 -> 4
        ([1, 0, 0, 0, 0, 0, 0, None, None], 1),
        ([3, 0, 0, 0, 0, 0, 0, None, None], 4),
        # sum 10 over 7 = 12.857 -> 13; all 3s over 7 -> 27, never more
        ([3, 3, 3, 1, 0, 0, 0, None, None], 13),
        ([3, 3, 3, 3, 3, 3, 3, None, None], 27),
        ([None, None, 0, 0, 0, 0, 0, 0, 0], 0),
    ],
)
def test_prorating_rounds_half_up(answers: list[int | None], total: int) -> None:
    score = score_phq9(answers)
    assert score.total == total
    assert score.prorated
    assert score.answered == 9 - answers.count(None)


def test_prorate_helper_exact_half() -> None:
    assert phq9.prorate(13, 8) == 15
    assert phq9.prorate(4, 8) == 5
    with pytest.raises(ValueError, match="positive"):
        phq9.prorate(0, 0)


@pytest.mark.parametrize("skipped", [3, 4, 9])
def test_more_than_two_skipped_is_refused(skipped: int) -> None:
    answers = [None] * skipped + [1] * (9 - skipped)
    with pytest.raises(InvalidInput) as caught:
        score_phq9(answers)
    assert set(caught.value.errors) == {"answers"}
    assert "At most 2" in caught.value.errors["answers"][0]


def test_item9_skipped_is_none_and_prorated() -> None:
    score = score_phq9([1, 1, 1, 1, 1, 1, 1, 1, None])
    assert score.item9 is None
    assert score.total == 9


@pytest.mark.parametrize("bad", [True, False, 1.0, "1", -1, 4, [1], {"v": 1}])
def test_wrong_answer_values_are_refused(bad: object) -> None:
    answers: list[object] = [0] * 9
    answers[3] = bad
    with pytest.raises(InvalidInput) as caught:
        score_phq9(answers)
    assert set(caught.value.errors) == {"answers.3"}


@pytest.mark.parametrize("count", [0, 8, 10])
def test_wrong_count_is_refused(count: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        score_phq9([0] * count)
    assert caught.value.errors["answers"] == [f"Expected 9 answers, got {count}."]


@pytest.mark.parametrize("bad", ["012345678", None, 5, {"0": 1}, b"000000000"])
def test_answers_must_be_a_list(bad: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        score_phq9(bad)  # type: ignore[arg-type]
    assert list(caught.value.errors) == ["answers"]


@pytest.mark.parametrize("bad", [True, -1, 4, 1.5, "2"])
def test_wrong_difficulty_is_refused(bad: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        score_phq9([0] * 9, difficulty=bad)
    assert list(caught.value.errors) == ["difficulty"]


def test_all_problems_are_collected() -> None:
    with pytest.raises(InvalidInput) as caught:
        score_phq9([0, True, 2, "3", 0, 0, 0, 0, 9], difficulty=7)
    assert set(caught.value.errors) == {"answers.1", "answers.3", "answers.8", "difficulty"}
    assert isinstance(caught.value, ValueError)


def test_tuple_input_is_accepted() -> None:
    assert score_phq9((0, 0, 0, 0, 0, 0, 0, 0, 0)).total == 0


def test_loinc_facts() -> None:
    assert [item.number for item in phq9.ITEMS] == list(range(1, 10))
    assert phq9.ITEMS[8].loinc == "44260-8"
    assert len({item.loinc for item in phq9.ITEMS}) == 9
    assert (phq9.PANEL_LOINC, phq9.TOTAL_LOINC, phq9.DIFFICULTY_LOINC) == (
        "44249-1",
        "44261-6",
        "69722-7",
    )
    assert phq9.ANSWER_LOINC == {0: "LA6568-5", 1: "LA6569-3", 2: "LA6570-1", 3: "LA6571-9"}
    # Item 10's codes are deliberately not in numeric order.
    assert phq9.DIFFICULTY_ANSWER_LOINC[2] == "LA6575-0"
    assert phq9.DIFFICULTY_ANSWER_LOINC[3] == "LA6574-3"


answer = st.integers(min_value=0, max_value=3)


@given(st.lists(answer, min_size=9, max_size=9))
def test_any_complete_answers_score_in_range(answers: list[int]) -> None:
    score = score_phq9(answers)
    assert 0 <= score.total <= 27
    assert score.total == sum(answers)
    assert score.severity == severity(score.total)
    low, high = next((lo, hi) for lo, hi, band in phq9.SEVERITY_BANDS if band == score.severity)
    assert low <= score.total <= high


@given(
    st.lists(answer, min_size=9, max_size=9),
    st.sets(st.integers(min_value=0, max_value=8), min_size=1, max_size=2),
)
def test_prorated_total_never_exceeds_27(answers: list[int], skipped: set[int]) -> None:
    given_answers: list[int | None] = [None if i in skipped else a for i, a in enumerate(answers)]
    score = score_phq9(given_answers)
    assert score.prorated
    assert 0 <= score.total <= 27
    kept = [a for a in given_answers if a is not None]
    exact = sum(kept) * 9 / len(kept)
    assert abs(score.total - exact) <= 0.5
