"""Rules, second version: safety floors, live vitals, deviations, timers, item 9 skipped."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinical import rules
from clinical.errors import InvalidInput
from clinical.phq9 import score_phq9
from clinical.rules import (
    DEFAULTS,
    EscalationRules,
    VitalsReading,
    acute_session_missed,
    item9_reask_flags,
    item9_reask_unanswered,
    phq9_flags,
    pre_dose_warnings,
    reading_due_since,
    session_deviations,
    vitals_flags,
)

T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def reading(
    minutes: float = 0,
    systolic: int = 120,
    diastolic: int = 80,
    heart_rate: int | None = 80,
    spo2: int | None = 98,
) -> VitalsReading:
    return VitalsReading(T0 + timedelta(minutes=minutes), systolic, diastolic, heart_rate, spo2)


def kinds(flags: list[rules.Flag]) -> dict[str, str]:
    return {f.kind: f.priority for f in flags}


def test_version() -> None:
    assert rules.RULES_VERSION == "rules-2"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, {}),
        ({"systolic": 179, "diastolic": 109}, {}),
        ({"systolic": 180, "diastolic": 100}, {"hypertension": "urgent"}),
        ({"systolic": 150, "diastolic": 110}, {"hypertension": "urgent"}),
        ({"systolic": 186, "diastolic": 104}, {"hypertension": "urgent"}),
        ({"heart_rate": 50}, {}),
        ({"heart_rate": 49}, {"vital_signs": "high"}),
        ({"heart_rate": 120}, {}),
        ({"heart_rate": 121}, {"vital_signs": "high"}),
        ({"heart_rate": None}, {}),
        ({"spo2": 92}, {}),
        ({"spo2": 91}, {"respiratory": "urgent"}),
        ({"spo2": None}, {}),
        (
            {"systolic": 190, "diastolic": 120, "heart_rate": 130, "spo2": 85},
            {"hypertension": "urgent", "respiratory": "urgent", "vital_signs": "high"},
        ),
    ],
)
def test_each_reading_is_judged(values: dict[str, int | None], expected: dict[str, str]) -> None:
    flags = vitals_flags([reading(**values)])  # type: ignore[arg-type]
    assert kinds(flags) == expected
    json.dumps([f.as_dict() for f in flags])
    for flag in flags:
        assert flag.evidence["rules_version"] == "rules-2"


@pytest.mark.parametrize(
    ("systolic", "diastolic", "warned", "paged"),
    [
        (139, 89, False, False),
        (140, 80, True, False),
        (130, 90, True, False),
        (179, 109, True, False),
        (180, 100, False, True),  # past the care limit: a page, not just a warning
    ],
)
def test_pre_dose(systolic: int, diastolic: int, warned: bool, paged: bool) -> None:
    given_ = [reading(-5, systolic, diastolic)]
    assert bool(pre_dose_warnings(given_, started_at=T0)) is warned
    assert ("hypertension" in kinds(vitals_flags(given_))) is paged


def test_pre_dose_ignores_readings_after_the_start() -> None:
    assert pre_dose_warnings([reading(1, 150, 95)], started_at=T0) == []
    assert pre_dose_warnings([reading(0, 150, 95)], started_at=T0) != []


def deviation_kinds(**kwargs: object) -> set[str]:
    params: dict[str, object] = {
        "started_at": T0,
        "ketamine_mg_per_kg": 0.5,
        "ketamine_infusion_minutes": 40,
        "readings": [reading(m) for m in (0, 15, 30, 40)],
    }
    params.update(kwargs)
    return {d.kind for d in session_deviations(**params)}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("minutes", "gap"),
    [
        ((0, 15, 30, 40), False),
        ((0, 15, 31, 40), True),  # 16 minutes apart during the infusion
        ((0, 16, 30, 40), True),
        ((-5, 10, 25, 40), False),  # the pre-dose reading counts as the first
        ((-6, 10, 25, 40), True),
        ((0, 15, 30), False),  # 10 minutes from the last reading to the end
        ((0, 15), True),  # 25 minutes to the end without a reading
        ((), True),
        ((0, 15, 30, 40, 120), False),  # recovery readings do not make a gap
    ],
)
def test_vitals_gap_15_16_minutes(minutes: tuple[int, ...], gap: bool) -> None:
    found = deviation_kinds(readings=[reading(m) for m in minutes])
    assert ("vitals_gap" in found) is gap


@pytest.mark.parametrize(
    ("dose", "off"),
    [(0.5, False), (0.45, False), (0.55, False), (0.44, True), (0.56, True), (1.0, True)],
)
def test_dose_off_protocol(dose: float, off: bool) -> None:
    assert ("dose_off_protocol" in deviation_kinds(ketamine_mg_per_kg=dose)) is off


@pytest.mark.parametrize(
    ("minutes", "off"), [(19, True), (20, False), (40, False), (60, False), (61, True)]
)
def test_infusion_duration(minutes: int, off: bool) -> None:
    readings = [reading(m) for m in range(0, minutes + 1, 10)]
    found = deviation_kinds(ketamine_infusion_minutes=minutes, readings=readings)
    assert ("infusion_duration" in found) is off
    assert "vitals_gap" not in found


def test_on_protocol_has_no_deviations() -> None:
    assert deviation_kinds() == set()


@pytest.mark.parametrize(
    ("last", "now", "due"),
    [
        (0, 20, False),
        (0, 21, True),
        (0, 20.01, True),  # "more than 20 minutes old"
        (None, 20, False),  # no reading yet: counted from the start
        (None, 21, True),
        (30, 45, False),
        (30, 51, True),
    ],
)
def test_reading_overdue_20_21_minutes(last: float | None, now: float, due: bool) -> None:
    found = reading_due_since(
        started_at=T0,
        last_reading_at=None if last is None else T0 + timedelta(minutes=last),
        now=T0 + timedelta(minutes=now),
    )
    assert (found is not None) is due


@pytest.mark.parametrize(
    ("elapsed", "flagged"),
    [
        (timedelta(days=4), False),
        (timedelta(days=4, minutes=1), True),
        (timedelta(days=5), True),
        (timedelta(days=2), False),
    ],
)
def test_acute_session_missed_4_5_days(elapsed: timedelta, flagged: bool) -> None:
    flag = acute_session_missed(last_session_at=T0, now=T0 + elapsed)
    assert (flag is not None) is flagged
    if flag is not None:
        assert (flag.kind, flag.priority) == ("acute_session_missed", "routine")


@pytest.mark.parametrize(("total", "priority"), [(14, "routine"), (15, "high"), (16, "high")])
def test_item9_skipped_14_15(total: int, priority: str) -> None:
    # Eight answers summing to s prorate to round_half_up(s * 9 / 8): pick s for each total.
    by_total = {14: 12, 15: 13, 16: 14}
    items = [2] * (by_total[total] // 2) + [1] * (by_total[total] % 2)
    answers: list[int | None] = [*items, *[0] * (8 - len(items)), None]
    score = score_phq9(answers)
    assert score.total == total
    flags = phq9_flags(score, previous_total=None, baseline=None)
    assert kinds(flags)["safety_item_unanswered"] == priority


@pytest.mark.parametrize(
    ("item9", "total", "expected"),
    [
        (0, 25, {}),
        (1, 10, {"suicidality": "high"}),
        (1, 20, {"suicidality": "urgent"}),
        (2, 0, {"suicidality": "urgent"}),
        (3, 0, {"suicidality": "urgent"}),
    ],
)
def test_item9_reask(item9: int, total: int, expected: dict[str, str]) -> None:
    assert kinds(item9_reask_flags(item9=item9, original_total=total)) == expected


def test_item9_reask_unanswered_after_24_hours() -> None:
    assert item9_reask_unanswered(asked_at=T0, now=T0 + timedelta(hours=23, minutes=59)) is None
    flag = item9_reask_unanswered(asked_at=T0, now=T0 + timedelta(hours=24))
    assert flag is not None
    assert (flag.kind, flag.priority) == ("safety_item_unanswered", "high")


@pytest.mark.parametrize(
    ("baseline", "previous", "total", "worse"),
    [(12, 13, 17, True), (12, 13, 16, False), (None, 3, 8, True), (None, 3, 7, False)],
)
def test_worsening_against_baseline_or_previous(
    baseline: int | None, previous: int | None, total: int, worse: bool
) -> None:
    items = [3] * (total // 3) + [total % 3]
    answers: list[int | None] = [*items, *[0] * (9 - len(items))]
    score = score_phq9(answers)
    assert score.total == total
    flags = phq9_flags(score, previous_total=previous, baseline=baseline)
    assert ("worsening" in kinds(flags)) is worse


# --- safety floors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("item9_high", 2),
        ("item9_urgent", 3),
        ("suicidal_thoughts_high", 2),
        ("suicidal_thoughts_urgent", 3),
        ("asrm_cutoff", 7),
        ("systolic_limit", 181),
        ("diastolic_limit", 111),
        ("systolic_limit", 300),
        ("heart_rate_high", 121),
        ("heart_rate_low", 49),
        ("spo2_low", 91),
        ("vitals_overdue_minutes", 21),
        ("acute_gap_days", 5),
        ("item9_skipped_high_total", 16),
        ("item9_with_total_urgent_total", 21),
    ],
)
def test_a_setting_past_a_floor_is_refused_by_name(setting: str, value: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        EscalationRules.from_mapping({setting: value}, path="escalation_rules")
    assert set(caught.value.errors) == {f"escalation_rules.{setting}"}


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("item9_urgent", 1),  # stricter: item 9 = 1 urgent
        ("suicidal_thoughts_urgent", 1),
        ("asrm_cutoff", 5),
        ("systolic_limit", 180),
        ("systolic_limit", 160),
        ("diastolic_limit", 110),
        ("diastolic_limit", 100),
        ("spo2_low", 94),
        ("heart_rate_high", 110),
    ],
)
def test_stricter_settings_are_accepted(setting: str, value: int) -> None:
    assert getattr(EscalationRules.from_mapping({setting: value}), setting) == value


@given(item9=st.integers(min_value=1, max_value=3), settings=st.data())
def test_item9_is_never_below_high_whatever_the_clinic(item9: int, settings: st.DataObject) -> None:
    urgent = settings.draw(st.integers(min_value=1, max_value=2))
    chosen = EscalationRules(item9_urgent=urgent, item9_high=1)
    answers: list[int | None] = [0] * 8 + [item9]
    flags = phq9_flags(score_phq9(answers), previous_total=None, baseline=None, rules=chosen)
    priority = kinds(flags)["suicidality"]
    assert priority in ("high", "urgent")
    if item9 >= 2:
        assert priority == "urgent"


def test_defaults_unchanged_for_v1_thresholds() -> None:
    assert DEFAULTS.systolic_limit == 180
    assert DEFAULTS.diastolic_limit == 110
