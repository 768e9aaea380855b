"""Outcome arithmetic: change, response, remission, relapse, minimal important change."""

from __future__ import annotations

import json

import pytest

from clinical.errors import InvalidInput
from clinical.outcomes import (
    ChangeFromBaseline,
    change_from_baseline,
    choose_baseline,
    summarize,
)


@pytest.mark.parametrize(
    ("baseline", "current", "points", "percent"),
    [
        (20, 10, -10, -50.0),
        (20, 25, 5, 25.0),
        (15, 10, -5, -33.3),
        (3, 1, -2, -66.7),  # -66.666... rounds half away from zero
        (8, 7, -1, -12.5),
        (0, 4, 4, None),
        (12, 12, 0, 0.0),
    ],
)
def test_change_from_baseline(baseline: int, current: int, points: int, percent: float) -> None:
    assert change_from_baseline(baseline=baseline, current=current) == ChangeFromBaseline(
        points, percent
    )


def test_change_needs_both() -> None:
    assert change_from_baseline(baseline=None, current=5) is None
    assert change_from_baseline(baseline=5, current=None) is None


@pytest.mark.parametrize(
    ("screening", "first", "expected"),
    [(18, 12, 18), (None, 12, 12), (0, 12, 0), (None, None, None)],
)
def test_choose_baseline(screening: int | None, first: int | None, expected: int | None) -> None:
    assert choose_baseline(screening_phq9=screening, first_checkin=first) == expected


@pytest.mark.parametrize(
    ("baseline", "latest", "response"),
    [
        (20, 10, True),  # exactly 50 %
        (20, 11, False),
        (21, 10, True),
        (21, 11, False),  # 47.6 %
        (9, 4, True),  # 55.6 %
        (9, 5, False),  # 44.4 %
        (0, 0, False),  # no baseline symptoms: response undefined
    ],
)
def test_response_boundary(baseline: int, latest: int, response: bool) -> None:
    assert summarize(baseline=baseline, totals=[latest]).response is response


@pytest.mark.parametrize(("latest", "remission"), [(4, True), (5, False), (0, True)])
def test_remission_boundary(latest: int, remission: bool) -> None:
    assert summarize(baseline=20, totals=[latest]).remission is remission


@pytest.mark.parametrize(
    ("baseline", "totals", "relapse", "ever"),
    [
        (20, [10, 15], True, True),  # responded, back to 15 (25 % below)
        (20, [10, 10], False, True),  # still a response
        (20, [8, 11], True, True),  # 45 % below, >= 10
        (20, [8, 9], False, True),  # below 10
        (16, [8, 10], True, True),  # 37.5 % below, >= 10
        (20, [12, 15], False, False),  # never responded
        (20, [15], False, False),
        (20, [10], False, True),  # the response itself is not a relapse
        (None, [3, 15], False, False),
        (20, [10, 18, 9], False, True),  # recovered again
    ],
)
def test_relapse(baseline: int | None, totals: list[int], relapse: bool, ever: bool) -> None:
    summary = summarize(baseline=baseline, totals=totals)
    assert summary.relapse is relapse
    assert summary.ever_responded is ever


@pytest.mark.parametrize(
    ("baseline", "latest", "mic"),
    [(20, 15, True), (20, 16, False), (10, 15, True), (10, 14, False), (None, 3, False)],
)
def test_minimal_important_change(baseline: int | None, latest: int, mic: bool) -> None:
    assert summarize(baseline=baseline, totals=[latest]).minimal_important_change is mic


def test_empty_history() -> None:
    summary = summarize(baseline=14, totals=[])
    assert summary.latest is None
    assert summary.change is None
    assert not (summary.response or summary.remission or summary.relapse)


def test_as_dict_is_json() -> None:
    summary = summarize(baseline=20, totals=[12, 9])
    data = json.loads(json.dumps(summary.as_dict()))
    assert data == {
        "baseline": 20,
        "latest": 9,
        "change": {"points": -11, "percent": -55.0},
        "response": True,
        "remission": False,
        "relapse": False,
        "ever_responded": True,
        "minimal_important_change": True,
    }


@pytest.mark.parametrize(
    ("baseline", "totals", "path"),
    [(28, [1], "baseline"), (10, [1, -1], "totals.1"), (10, [True], "totals.0")],
)
def test_out_of_range_totals(baseline: int, totals: list[int], path: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        summarize(baseline=baseline, totals=totals)
    assert path in caught.value.errors
