"""Outcome definitions v2: honest baseline, response/remission from >= 10, relapse confirmed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinical.errors import InvalidInput
from clinical.outcomes import (
    BASELINE_BELOW_10,
    BASELINE_VERSION,
    NO_PHQ9_BASELINE,
    NO_POST_TREATMENT_PHQ9,
    OUTCOMES_VERSION,
    PRE_TREATMENT_PHQ9,
    RELAPSE_CONFIRMED,
    RELAPSE_NONE,
    RELAPSE_RECHECK,
    SCREENING_PHQ9,
    Baseline,
    Phq9Point,
    post_treatment_totals,
    relapse_status,
    remission,
    response,
    select_baseline,
    summarize_course,
)
from clinical.worsening import WORSENING_VERSION, worsening

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TOTAL = st.integers(min_value=0, max_value=27)


def base(score: int | None) -> Baseline:
    if score is None:
        return Baseline(score=None, source=None, at=None, reason=NO_PHQ9_BASELINE)
    return Baseline(score=score, source=SCREENING_PHQ9, at=None, reason=None)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


# --- baseline selection -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("checkins", "first_session", "instrument", "screening", "expected"),
    [
        # Latest pre-treatment PHQ-9 wins over the screening.
        ([(-48, 14), (-2, 16)], 0, "PHQ-9", 20, (16, PRE_TREATMENT_PHQ9)),
        # A check-in after the first session started is never a baseline.
        ([(1, 8)], 0, "PHQ-9", 20, (20, SCREENING_PHQ9)),
        ([(0, 8)], 0, "PHQ-9", 20, (20, SCREENING_PHQ9)),  # at the very start: post
        ([(-1, 12), (3, 5)], 0, "PHQ-9", 20, (12, PRE_TREATMENT_PHQ9)),
        # MADRS screening and no pre-treatment PHQ-9: no baseline, with a reason.
        ([(2, 8)], 0, "MADRS", 30, (None, None)),
        ([], None, "MADRS", 30, (None, None)),
        ([], None, None, None, (None, None)),
        # MADRS screening with a pre-treatment PHQ-9: measured from it.
        ([(-5, 18)], 0, "MADRS", 30, (18, PRE_TREATMENT_PHQ9)),
        # No session yet: every check-in is pre-treatment.
        ([(-5, 18), (-1, 11)], None, "PHQ-9", 20, (11, PRE_TREATMENT_PHQ9)),
        ([], None, "PHQ-9", 20, (20, SCREENING_PHQ9)),
    ],
)
def test_select_baseline(
    checkins: list[tuple[float, int]],
    first_session: float | None,
    instrument: str | None,
    screening: int | None,
    expected: tuple[int | None, str | None],
) -> None:
    chosen = select_baseline(
        checkins=[Phq9Point(at=at(h), total=t) for h, t in checkins],
        first_session_at=None if first_session is None else at(first_session),
        screening_instrument=instrument,
        screening_score=screening,
    )
    assert (chosen.score, chosen.source) == expected
    assert chosen.version == BASELINE_VERSION
    assert (chosen.reason == NO_PHQ9_BASELINE) is (expected[0] is None)


def test_baseline_ignores_given_order() -> None:
    points = [Phq9Point(at(-1), 9), Phq9Point(at(-3), 22)]
    chosen = select_baseline(
        checkins=points, first_session_at=at(0), screening_instrument=None, screening_score=None
    )
    assert chosen.score == 9
    assert chosen.at == at(-1)


def test_post_treatment_totals() -> None:
    points = [Phq9Point(at(5), 7), Phq9Point(at(-1), 20), Phq9Point(at(0), 12)]
    assert post_treatment_totals(points, first_session_at=at(0)) == [12, 7]
    assert post_treatment_totals(points, first_session_at=None) == []


def test_baseline_bad_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        select_baseline(
            checkins=[Phq9Point(at(-1), 28)],
            first_session_at=at(0),
            screening_instrument="PHQ-9",
            screening_score=-1,
        )
    assert set(caught.value.errors) == {"checkins.0.total", "screening_score"}
    with pytest.raises(ValueError):
        select_baseline(
            checkins=[Phq9Point(datetime(2026, 1, 1), 3)],  # naive on purpose
            first_session_at=None,
            screening_instrument=None,
            screening_score=None,
        )


# --- response and remission -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "total", "value", "reason"),
    [
        (10, 5, True, None),  # baseline 10 is elevated: 50 %
        (9, 0, None, BASELINE_BELOW_10),  # 9 is not
        (20, 10, True, None),  # exactly 50 % of baseline
        (20, 11, False, None),  # 45 % reduction
        (26, 13, True, None),  # 50 %
        (25, 12, True, None),  # 52 % reduction
        (25, 13, False, None),  # 48 % reduction
        (27, 14, False, None),  # 48.1 % reduction (49 % side of the line)
        (27, 13, True, None),  # 51.9 % reduction
        (None, 3, None, NO_PHQ9_BASELINE),
        (12, None, None, NO_POST_TREATMENT_PHQ9),
        (0, 0, None, BASELINE_BELOW_10),
    ],
)
def test_response(baseline: int | None, total: int | None, value: bool | None, reason: str) -> None:
    verdict = response(baseline=base(baseline), total=total)
    assert (verdict.value, verdict.reason) == (value, reason)
    assert verdict.version == OUTCOMES_VERSION


@pytest.mark.parametrize(
    ("baseline", "total", "value", "reason"),
    [
        (10, 4, True, None),
        (10, 5, False, None),
        (27, 4, True, None),
        (27, 5, False, None),
        (9, 4, None, BASELINE_BELOW_10),
        (9, 0, None, BASELINE_BELOW_10),
        (None, 0, None, NO_PHQ9_BASELINE),
        (15, None, None, NO_POST_TREATMENT_PHQ9),
    ],
)
def test_remission(
    baseline: int | None, total: int | None, value: bool | None, reason: str
) -> None:
    verdict = remission(baseline=base(baseline), total=total)
    assert (verdict.value, verdict.reason) == (value, reason)


def test_reason_comes_from_the_baseline() -> None:
    custom = Baseline(score=None, source=None, at=None, reason="madrs_only")
    assert response(baseline=custom, total=4).reason == "madrs_only"


# --- relapse ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "totals", "status"),
    [
        (12, [5, 14], RELAPSE_RECHECK),  # the 12 -> 5 -> 14
        (12, [5, 14, 11], RELAPSE_CONFIRMED),  # second bad total in a row
        (12, [5, 14, 6], RELAPSE_NONE),  # the re-check came back a response
        (12, [5, 14, 6, 10], RELAPSE_RECHECK),  # a new first bad total
        (12, [5, 14, 9], RELAPSE_NONE),  # 9 is below 10
        (20, [10, 10], RELAPSE_NONE),  # still a response
        (20, [10, 11], RELAPSE_RECHECK),  # 10 is the boundary of relapse_min_total
        (20, [8, 9], RELAPSE_NONE),  # below 10
        (20, [4, 11], RELAPSE_RECHECK),  # after a remission
        (20, [4, 10], RELAPSE_NONE),  # 10 is still 50 % of 20: a response
        (20, [15], RELAPSE_NONE),  # never responded
        (20, [12, 15, 16], RELAPSE_NONE),
        (20, [10], RELAPSE_NONE),  # the response itself
        (9, [2, 12, 12], RELAPSE_NONE),  # baseline < 10: no response, so no relapse
        (None, [2, 12, 12], RELAPSE_NONE),
    ],
)
def test_relapse_status(baseline: int | None, totals: list[int], status: str) -> None:
    found = relapse_status(baseline=base(baseline), earlier_totals=totals[:-1], total=totals[-1])
    assert found == status


def test_relapse_bad_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        relapse_status(baseline=base(12), earlier_totals=[5, 40], total=-1)
    assert set(caught.value.errors) == {"earlier_totals.1", "total"}


@given(baseline=st.none() | TOTAL, earlier=st.lists(TOTAL, max_size=8), total=TOTAL)
def test_relapse_never_confirmed_on_a_first_bad_total(
    baseline: int | None, earlier: list[int], total: int
) -> None:
    """Confirmed needs the total before it to have been a bad one too."""
    status = relapse_status(baseline=base(baseline), earlier_totals=earlier, total=total)
    if status == RELAPSE_CONFIRMED:
        assert earlier
        before = relapse_status(
            baseline=base(baseline), earlier_totals=earlier[:-1], total=earlier[-1]
        )
        assert before != RELAPSE_NONE
    if not earlier:
        assert status == RELAPSE_NONE  # nothing before: no response to relapse from


@given(baseline=TOTAL, totals=st.lists(TOTAL, min_size=1, max_size=8))
def test_relapse_needs_an_earlier_response(baseline: int, totals: list[int]) -> None:
    status = relapse_status(baseline=base(baseline), earlier_totals=totals[:-1], total=totals[-1])
    if status != RELAPSE_NONE:
        assert baseline >= 10
        assert totals[-1] >= 10
        assert any(2 * t <= baseline for t in totals[:-1])


# --- worsening --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "previous", "total", "against"),
    [
        (20, 4, 9, ("previous",)),  # +5 from previous
        (20, 4, 8, None),  # +4
        (12, 13, 17, ("baseline",)),  # slow drift: +4 from previous, +5 from baseline
        (12, 13, 16, None),
        (12, 10, 17, ("previous", "baseline")),
        (None, None, 27, None),
        (None, 3, 8, ("previous",)),
        (6, None, 11, ("baseline",)),  # baseline < 10 still counts: worse than before treatment
    ],
)
def test_worsening(
    baseline: int | None, previous: int | None, total: int, against: tuple[str, ...] | None
) -> None:
    found = worsening(baseline=base(baseline), previous_total=previous, total=total)
    if against is None:
        assert found is None
    else:
        assert found is not None
        assert found.against == against
        assert found.version == WORSENING_VERSION


# --- the summary ------------------------------------------------------------------------------


def test_summary_json() -> None:
    summary = summarize_course(baseline=base(12), totals=[5, 14])
    data = json.loads(json.dumps(summary.as_dict()))
    assert data == {
        "baseline": 12,
        "baseline_source": SCREENING_PHQ9,
        "baseline_reason": None,
        "latest": 14,
        "change": {"points": 2, "percent": 16.7},
        "response": False,
        "response_reason": None,
        "remission": False,
        "remission_reason": None,
        "relapse": True,
        "relapse_status": RELAPSE_RECHECK,
        "ever_responded": True,
        "minimal_important_change": False,
        "version": OUTCOMES_VERSION,
    }


def test_summary_empty_and_bad() -> None:
    empty = summarize_course(baseline=base(14), totals=[])
    assert empty.response.reason == NO_POST_TREATMENT_PHQ9
    assert empty.relapse == RELAPSE_NONE
    with pytest.raises(InvalidInput) as caught:
        summarize_course(baseline=base(14), totals=[3, 28])
    assert "totals.1" in caught.value.errors


@given(baseline=st.integers(min_value=0, max_value=9), totals=st.lists(TOTAL, max_size=8))
def test_no_outcome_from_a_baseline_below_10(baseline: int, totals: list[int]) -> None:
    summary = summarize_course(baseline=base(baseline), totals=totals)
    assert summary.response.value is None
    assert summary.remission.value is None
    assert summary.response.reason == BASELINE_BELOW_10
    assert summary.relapse == RELAPSE_NONE
    assert summary.ever_responded is False


@given(baseline=st.integers(min_value=10, max_value=27), total=TOTAL)
def test_remission_implies_response(baseline: int, total: int) -> None:
    if remission(baseline=base(baseline), total=total).value:
        assert response(baseline=base(baseline), total=total).value is True
