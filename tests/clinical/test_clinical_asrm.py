"""ASRM scoring and the mania screening cutoff."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinical import asrm
from clinical.asrm import score_asrm
from clinical.errors import InvalidInput


@pytest.mark.parametrize(
    ("answers", "total", "positive"),
    [
        ([0, 0, 0, 0, 0], 0, False),
        ([1, 1, 1, 1, 1], 5, False),
        ([2, 1, 1, 1, 1], 6, True),
        ([4, 4, 4, 4, 4], 20, True),
    ],
)
def test_total_and_cutoff(answers: list[int], total: int, positive: bool) -> None:
    score = score_asrm(answers)
    assert (score.total, score.positive) == (total, positive)
    assert score.answers == tuple(answers)
    assert score.version == "asrm-1"
    assert score.as_dict()["total"] == total


def test_cutoff_constant_and_items() -> None:
    assert asrm.POSITIVE_CUTOFF == 6
    assert [i.construct for i in asrm.ITEMS] == [
        "Positive or cheerful mood",
        "Self-confidence",
        "Need for sleep",
        "Talkativeness",
        "Activity",
    ]
    # No invented codes.
    assert all(item.loinc is None for item in asrm.ITEMS)


@pytest.mark.parametrize("bad", [None, True, -1, 5, 2.0, "2"])
def test_wrong_values_are_refused(bad: object) -> None:
    answers: list[object] = [0, 0, bad, 0, 0]
    with pytest.raises(InvalidInput) as caught:
        score_asrm(answers)
    assert set(caught.value.errors) == {"asrm.2"}


@pytest.mark.parametrize("answers", [[0] * 4, [0] * 6, "00000", None])
def test_wrong_shape_is_refused(answers: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        score_asrm(answers)  # type: ignore[arg-type]
    assert "asrm" in caught.value.errors


@given(st.lists(st.integers(min_value=0, max_value=4), min_size=5, max_size=5))
def test_any_valid_answers_total_0_to_20(answers: list[int]) -> None:
    score = score_asrm(answers)
    assert 0 <= score.total <= 20
    assert score.positive == (score.total >= 6)
