"""Escalation rules: every row of the default table, priorities and clinic overrides."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clinical import rules
from clinical.asrm import score_asrm
from clinical.errors import InvalidInput
from clinical.phq9 import score_phq9
from clinical.rules import (
    DEFAULTS,
    EscalationRules,
    Flag,
    VitalsReading,
    asrm_flags,
    maintenance_overdue,
    phq9_flags,
    priority_rank,
    symptom_report_flags,
    vitals_flags,
)
from clinical.symptoms import SYMPTOMS, score_symptom_report

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def phq(items: list[int | None], item9: int | None) -> list[int | None]:
    """Eight answers for items 1-8 plus item 9."""
    assert len(items) == 8
    return [*items, item9]


def kinds(flags: list[Flag]) -> dict[str, str]:
    return {f.kind: f.priority for f in flags}


def run_phq9(
    answers: list[int | None],
    *,
    previous: int | None = None,
    baseline: int | None = None,
    relapse: str = "none",
    settings: EscalationRules = DEFAULTS,
) -> list[Flag]:
    return phq9_flags(
        score_phq9(answers),
        previous_total=previous,
        baseline=baseline,
        relapse=relapse,
        rules=settings,
    )


def test_priority_rank() -> None:
    assert priority_rank("urgent") > priority_rank("high") > priority_rank("routine")
    with pytest.raises(ValueError, match="Unknown priority"):
        priority_rank("critical")


def test_kinds_match_contract() -> None:
    assert rules.KINDS == (
        "suicidality",
        "mania",
        "severe_depression",
        "worsening",
        "relapse",
        "adverse_event",
        "hypertension",
        "safety_item_unanswered",
        "maintenance_overdue",
        "vital_signs",
        "respiratory",
        "vitals_overdue",
        "acute_session_missed",
    )


@pytest.mark.parametrize(
    ("answers", "expected", "rule"),
    [
        # item 9 >= 2 -> urgent, whatever the total
        (phq([0] * 8, 2), {"suicidality": "urgent"}, "phq9.item9>=2"),
        (phq([0] * 8, 3), {"suicidality": "urgent"}, "phq9.item9>=2"),
        # item 9 = 1 with total >= 20 -> urgent; 19 -> high
        (phq([3, 3, 3, 3, 3, 3, 1, 0], 1), {"suicidality": "urgent"}, "phq9.item9>=1&total>=20"),
        (phq([3, 3, 3, 3, 3, 3, 0, 0], 1), {"suicidality": "high"}, "phq9.item9>=1"),
        (phq([0] * 8, 1), {"suicidality": "high"}, "phq9.item9>=1"),
        # total >= 20 without item 9 -> severe_depression high; 19 -> nothing
        (phq([3, 3, 3, 3, 3, 3, 2, 0], 0), {"severe_depression": "high"}, "phq9.total>=20"),
        (phq([3, 3, 3, 3, 3, 3, 1, 0], 0), {}, None),
        (phq([0] * 8, 0), {}, None),
    ],
)
def test_phq9_suicidality_and_severity_rows(
    answers: list[int | None], expected: dict[str, str], rule: str | None
) -> None:
    flags = run_phq9(answers)
    assert kinds(flags) == expected
    if rule is not None:
        assert flags[0].rule == rule
        assert flags[0].evidence["answers"] == answers
        assert flags[0].evidence["item9"] == answers[8]


def test_item9_with_total_20_and_suicidality_suppresses_severe_depression() -> None:
    flags = run_phq9(phq([3, 3, 3, 3, 3, 3, 3, 3], 2))
    assert kinds(flags) == {"suicidality": "urgent"}


def test_item9_skipped_is_flagged_and_total_still_judged() -> None:
    flags = run_phq9(phq([3, 3, 3, 3, 3, 3, 1, 0], None))
    # 19 over 8 answered = 21.375 -> 21 prorated; rules-2: a skip with a total >= 15 is high.
    assert kinds(flags) == {"severe_depression": "high", "safety_item_unanswered": "high"}
    unanswered = next(f for f in flags if f.kind == "safety_item_unanswered")
    assert unanswered.rule == "phq9.item9_skipped&total>=15"
    assert unanswered.evidence["item9"] is None
    assert unanswered.evidence["prorated"] is True


@pytest.mark.parametrize(
    ("previous", "flagged"), [(5, True), (6, False), (10, False), (None, False), (0, True)]
)
def test_worsening_needs_a_rise_of_5(previous: int | None, flagged: bool) -> None:
    flags = run_phq9(phq([1, 1, 1, 1, 1, 1, 1, 3], 0), previous=previous)  # total 10
    assert ("worsening" in kinds(flags)) is flagged
    if flagged:
        worsening = next(f for f in flags if f.kind == "worsening")
        assert worsening.priority == "routine"
        assert worsening.evidence["previous_total"] == previous
        assert worsening.evidence["rise"] == 10 - (previous or 0)


@pytest.mark.parametrize(
    ("relapse", "priority"),
    [("none", None), ("recheck", "routine"), ("confirmed", "high")],
)
def test_relapse_rule(relapse: str, priority: str | None) -> None:
    """rules-2: one bad total opens a routine re-check; the second in a row is high."""
    flags = run_phq9(phq([2, 2, 2, 2, 2, 1, 0, 0], 0), baseline=20, relapse=relapse)
    assert kinds(flags).get("relapse") == priority
    if priority is not None:
        found = next(f for f in flags if f.kind == "relapse")
        assert found.evidence["baseline"] == 20
        assert found.evidence["relapse_status"] == relapse


def test_flags_are_sorted_one_per_kind_and_json() -> None:
    flags = run_phq9(
        phq([3, 3, 3, 3, 3, 3, 3, 0], None), previous=5, baseline=26, relapse="confirmed"
    )
    # 21 over 8 answered prorates to 24: severe, 19 up on 5, and back near baseline 26.
    assert [(f.kind, f.priority) for f in flags] == [
        ("severe_depression", "high"),
        ("relapse", "high"),
        ("safety_item_unanswered", "high"),
        ("worsening", "routine"),
    ]
    json.dumps([f.as_dict() for f in flags])
    # Evidence dicts are independent copies.
    flags[0].evidence["answers"].append(99)
    assert 99 not in flags[1].evidence["answers"]


def test_highest_per_kind_keeps_top_priority() -> None:
    low = Flag("suicidality", "high", "a", {})
    top = Flag("suicidality", "urgent", "b", {})
    other = Flag("worsening", "routine", "c", {})
    assert rules.highest_per_kind([other, low, top]) == [top, other]


def report(**overrides: Any) -> Any:
    kwargs: dict[str, Any] = {
        "symptoms": dict.fromkeys(SYMPTOMS, 0),
        "asrm": [0, 0, 0, 0, 0],
        "suicidal_thoughts": 0,
        "seizure": False,
        "fainted": False,
    }
    kwargs.update(overrides)
    return score_symptom_report(**kwargs)


@pytest.mark.parametrize(
    ("overrides", "bipolar", "expected"),
    [
        ({}, False, {}),
        ({"suicidal_thoughts": 1}, False, {"suicidality": "high"}),
        ({"suicidal_thoughts": 2}, False, {"suicidality": "urgent"}),
        ({"suicidal_thoughts": 3}, False, {"suicidality": "urgent"}),
        ({"asrm": [1, 1, 1, 1, 1]}, True, {}),
        ({"asrm": [2, 1, 1, 1, 1]}, True, {"mania": "urgent"}),
        ({"asrm": [2, 1, 1, 1, 1]}, False, {"mania": "high"}),
        ({"seizure": True}, False, {"adverse_event": "urgent"}),
        ({"fainted": True}, False, {"adverse_event": "high"}),
        ({"symptoms": {**dict.fromkeys(SYMPTOMS, 2)}}, False, {}),
        (
            {"symptoms": {**dict.fromkeys(SYMPTOMS, 0), "nausea": 3}},
            False,
            {"adverse_event": "high"},
        ),
    ],
)
def test_symptom_report_rows(
    overrides: dict[str, Any], bipolar: bool, expected: dict[str, str]
) -> None:
    assert kinds(symptom_report_flags(report(**overrides), bipolar=bipolar)) == expected


def test_one_adverse_event_flag_lists_every_reason() -> None:
    symptoms = {**dict.fromkeys(SYMPTOMS, 0), "headache": 3, "bladder_pain": 3}
    flags = symptom_report_flags(
        report(symptoms=symptoms, seizure=True, fainted=True, suicidal_thoughts=2, asrm=[4] * 5),
        bipolar=False,
    )
    assert [(f.kind, f.priority) for f in flags] == [
        ("suicidality", "urgent"),
        ("adverse_event", "urgent"),
        ("mania", "high"),
    ]
    adverse = next(f for f in flags if f.kind == "adverse_event")
    assert adverse.rule == "report.seizure"
    assert adverse.evidence["reasons"] == [
        "seizure",
        "fainted",
        "symptom:headache",
        "symptom:bladder_pain",
    ]
    assert adverse.evidence["severe_symptoms"] == ["headache", "bladder_pain"]
    assert adverse.evidence["rules"] == ["report.seizure", "report.fainted", "report.symptom>=3"]
    json.dumps([f.as_dict() for f in flags])


def test_asrm_flags_evidence() -> None:
    [flag] = asrm_flags(score_asrm([2, 2, 2, 0, 0]), bipolar=True)
    assert flag.rule == "asrm.total>=6&bipolar"
    assert flag.evidence["answers"] == [2, 2, 2, 0, 0]
    assert flag.evidence["total"] == 6
    assert asrm_flags(score_asrm([2, 2, 1, 0, 0]), bipolar=True) == []


@pytest.mark.parametrize(
    ("readings", "flagged"),
    [
        ([(179, 109)], False),
        ([(180, 90)], True),
        ([(150, 110)], True),
        ([(120, 80), (181, 100), (130, 85)], True),
        ([], False),
    ],
)
def test_vitals(readings: list[tuple[int, int]], flagged: bool) -> None:
    given = [
        VitalsReading(at=T0 + timedelta(minutes=15 * i), systolic=s, diastolic=d, heart_rate=80)
        for i, (s, d) in enumerate(readings)
    ]
    flags = vitals_flags(given)
    assert bool(flags) is flagged
    if flagged:
        [flag] = flags
        assert (flag.kind, flag.priority) == ("hypertension", "urgent")
        offending = [r for r in given if r.systolic >= 180 or r.diastolic >= 110]
        assert flag.evidence["readings"] == [r.as_dict() for r in offending]
        json.dumps(flag.as_dict())


@pytest.mark.parametrize(
    ("elapsed", "flagged"),
    [
        (timedelta(days=4, hours=23, minutes=59), False),
        (timedelta(days=5), True),  # interval 3 + grace 2
        (timedelta(days=9), True),
        (timedelta(days=1), False),
    ],
)
def test_maintenance_overdue(elapsed: timedelta, flagged: bool) -> None:
    flag = maintenance_overdue(last_session_at=T0, interval_days=3, now=T0 + elapsed)
    assert (flag is not None) is flagged
    if flag is not None:
        assert (flag.kind, flag.priority) == ("maintenance_overdue", "routine")
        assert flag.evidence["last_session_at"] == T0.isoformat()
        assert flag.evidence["due_at"] == (T0 + timedelta(days=3)).isoformat()


def test_maintenance_overdue_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        maintenance_overdue(last_session_at=T0.replace(tzinfo=None), interval_days=3, now=T0)


def test_defaults_match_clinical_reference() -> None:
    assert DEFAULTS.as_dict() == {
        "item9_urgent": 2,
        "item9_high": 1,
        "item9_with_total_urgent_total": 20,
        "suicidal_thoughts_urgent": 2,
        "suicidal_thoughts_high": 1,
        "asrm_cutoff": 6,
        "severe_depression_total": 20,
        "worsening_points": 5,
        "relapse_min_total": 10,
        "systolic_limit": 180,
        "diastolic_limit": 110,
        "maintenance_grace_days": 2,
        "adverse_symptom_level": 3,
        "pre_dose_warn_systolic": 140,
        "pre_dose_warn_diastolic": 90,
        "heart_rate_low": 50,
        "heart_rate_high": 120,
        "spo2_low": 92,
        "vitals_overdue_minutes": 20,
        "acute_gap_days": 4,
        "item9_skipped_high_total": 15,
        "eligibility_min_phq9": 10,
        "eligibility_min_madrs": 20,
    }


def test_clinic_overrides_change_the_rules() -> None:
    strict = EscalationRules.from_mapping({"systolic_limit": 160, "worsening_points": 3})
    assert strict.systolic_limit == 160
    assert strict.diastolic_limit == 110
    reading = VitalsReading(at=T0, systolic=165, diastolic=90)
    assert vitals_flags([reading]) == []
    assert vitals_flags([reading], strict)[0].rule == "vitals.systolic>=160|diastolic>=110"
    flags = run_phq9(phq([1, 1, 1, 0, 0, 0, 0, 0], 0), previous=0, settings=strict)
    assert kinds(flags) == {"worsening": "routine"}
    assert EscalationRules.from_mapping(strict.as_dict()) == strict


@pytest.mark.parametrize(
    ("data", "paths"),
    [
        ({"bogus": 1}, {"bogus"}),
        ({"systolic_limit": "180"}, {"systolic_limit"}),
        ({"systolic_limit": True}, {"systolic_limit"}),
        ({"systolic_limit": 180.0}, {"systolic_limit"}),
        ({"asrm_cutoff": 0}, {"asrm_cutoff"}),
        ({"item9_urgent": 4}, {"item9_urgent"}),
        ({"item9_high": 3, "item9_urgent": 2}, {"item9_high"}),
        ({"suicidal_thoughts_high": 3}, {"suicidal_thoughts_high"}),
        ({"bogus": 1, "diastolic_limit": None}, {"bogus", "diastolic_limit"}),
    ],
)
def test_bad_overrides_are_refused(data: dict[str, object], paths: set[str]) -> None:
    with pytest.raises(InvalidInput) as caught:
        EscalationRules.from_mapping(data)
    assert set(caught.value.errors) == paths


def test_override_errors_can_be_prefixed() -> None:
    with pytest.raises(InvalidInput) as caught:
        EscalationRules.from_mapping({"bogus": 1}, path="escalation_rules")
    assert set(caught.value.errors) == {"escalation_rules.bogus"}
    with pytest.raises(InvalidInput):
        EscalationRules.from_mapping([1, 2])


def test_direct_construction_is_validated() -> None:
    with pytest.raises(InvalidInput):
        EscalationRules(systolic_limit=-1)
