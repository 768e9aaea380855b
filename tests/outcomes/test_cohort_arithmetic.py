"""The pure cohort arithmetic: Wilson intervals, the baseline gate, completion and follow-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clinical import cohort
from clinical.calendar import add_months

T0 = datetime(2024, 1, 1, 14, tzinfo=UTC)
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def course(
    *,
    screening: int | None = 20,
    pre: int | None = None,
    totals: tuple[int, ...] = (16, 14, 12, 10, 8, 6),
    follow: dict[int, int] | None = None,
    sessions: int = 6,
    phase: str = "maintenance",
    key: str = "P-1",
    bipolar: bool = False,
) -> cohort.Course:
    days = [T0 + timedelta(days=2 * i) for i in range(sessions)]
    checkins = [
        cohort.Checkin(at=d + timedelta(days=1), total=t)
        for d, t in zip(days, totals, strict=False)
    ]
    if pre is not None:
        checkins.append(cohort.Checkin(at=T0 - timedelta(days=1), total=pre))
    for months, total in (follow or {}).items():
        checkins.append(cohort.Checkin(at=add_months(days[-1], months), total=total))
    return cohort.Course(
        key=key,
        bipolar=bipolar,
        prior_failures=("tms",),
        phase=phase,
        acute_target=6,
        screening_instrument="PHQ-9" if screening is not None else "MADRS",
        screening_score=screening if screening is not None else 30,
        checkins=tuple(checkins),
        sessions=tuple(cohort.SessionGiven(at=d, mg_per_kg=0.5, infusion_minutes=40) for d in days),
    )


@pytest.mark.parametrize(
    ("k", "n", "expected"),
    [(0, 10, (0.0, 27.8)), (5, 10, (23.7, 76.3)), (10, 10, (72.2, 100.0)), (19, 100, (12.5, 27.8))],
)
def test_wilson_matches_published_values(k: int, n: int, expected: tuple[float, float]) -> None:
    assert cohort.wilson(k, n) == expected


def test_no_patients_gives_no_rate_rather_than_zero() -> None:
    assert cohort.rate(0, 0).as_dict() == {"rate": None, "ci95": None, "n": 0, "count": 0}


def test_response_and_remission_from_the_completion_checkin() -> None:
    o = cohort.evaluate(course(totals=(16, 14, 12, 10, 8, 4)), now=NOW)
    assert (o.baseline, o.baseline_source, o.completion_total) == (20, "screening_phq9", 4)
    assert (o.response, o.remission, o.percent_reduction) == (True, True, 80.0)


def test_exactly_half_the_baseline_is_a_response() -> None:
    o = cohort.evaluate(course(totals=(16, 14, 12, 11, 10, 10)), now=NOW)
    assert (o.response, o.remission) == (True, False)


def test_pre_treatment_checkin_beats_the_screening_and_below_10_is_not_evaluable() -> None:
    o = cohort.evaluate(course(pre=8, totals=(7, 6, 5, 4, 3, 2)), now=NOW)
    assert (o.baseline, o.baseline_source) == (8, "pre_treatment_phq9")
    assert (o.response, o.remission, o.not_evaluable) == (None, None, "baseline_below_10")


def test_no_honest_baseline_is_counted_not_dropped() -> None:
    o = cohort.evaluate(course(screening=None), now=NOW)
    assert (o.baseline, o.response, o.not_evaluable) == (None, None, "no_phq9_baseline")
    summary = cohort.summarize([o])
    assert summary["patients"] == 1
    assert summary["not_evaluable"]["no_phq9_baseline"] == 1
    assert summary["response"]["n"] == 0


def test_course_still_running_is_not_a_completion() -> None:
    o = cohort.evaluate(course(sessions=3, phase="acute"), now=NOW)
    assert (o.acute_completed, o.not_evaluable) == (False, "acute_not_completed")


def test_stopped_early_course_ends_at_its_last_session() -> None:
    o = cohort.evaluate(course(sessions=4, phase="follow_up", totals=(18, 17, 16, 15)), now=NOW)
    assert (o.acute_completed, o.acute_stopped_early, o.completion_total) == (True, True, 15)
    assert o.response is False


def test_sustained_remission_breaks_at_a_relapse_and_missing_is_unknown() -> None:
    kept = cohort.evaluate(
        course(totals=(16, 14, 12, 10, 6, 3), follow={1: 2, 3: 3, 6: 1, 12: 4, 24: 2}), now=NOW
    )
    assert kept.sustained_remission == {1: True, 3: True, 6: True, 12: True, 24: True}
    relapsed = cohort.evaluate(
        course(totals=(16, 14, 12, 10, 6, 3), follow={1: 2, 3: 14, 6: 2}), now=NOW
    )
    assert relapsed.sustained_remission == {1: True, 3: False, 6: False, 12: False, 24: False}
    gap = cohort.evaluate(course(totals=(16, 14, 12, 10, 6, 3), follow={1: 2, 6: 2}), now=NOW)
    assert gap.sustained_remission == {1: True, 3: None, 6: None, 12: None, 24: None}
    assert gap.follow_up_missing[3] is True
    not_due = cohort.evaluate(
        course(totals=(16, 14, 12, 10, 6, 3), follow={1: 2}),
        now=add_months(T0, 2),
    )
    assert not_due.sustained_remission == {1: True, 3: None, 6: None, 12: None, 24: None}
    assert not_due.follow_up_missing[3] is False


def test_report_groups_and_deviations() -> None:
    bipolar = course(key="P-2", bipolar=True, totals=(16, 14, 12, 10, 8, 4))
    off = cohort.Course(
        **{
            **{f: getattr(course(key="P-3"), f) for f in cohort.Course.__dataclass_fields__},
            "sessions": (
                cohort.SessionGiven(at=T0, mg_per_kg=0.6, infusion_minutes=15),
                *course().sessions[1:],
            ),
        }
    )
    result = cohort.report([course(), bipolar, off], now=NOW)
    assert result["patients"] == 3
    assert result["by_group"]["bipolar"]["bipolar"]["patients"] == 1
    assert result["by_group"]["bipolar"]["not_bipolar"]["patients"] == 2
    assert result["by_group"]["prior_failure"]["tms"]["patients"] == 3
    assert result["protocol_deviations"] == {
        "total": 2,
        "by_kind": {"dose_off_protocol": 1, "infusion_duration": 1},
        "patients_with_any": 1,
    }
    assert result["published"]["response_rate"] == 19.0
    assert result["remission"] == {"rate": 33.3, "ci95": [6.1, 79.2], "n": 3, "count": 1}
