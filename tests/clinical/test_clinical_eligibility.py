"""Eligibility screening: every criterion and contraindication, singly and all at once."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from clinical.eligibility import Screening, baseline_phq9, screen
from clinical.errors import InvalidInput

ELIGIBLE = Screening(
    failed_antidepressant_trials=2,
    prior_inadequate_response=("tms",),
    baseline_instrument="PHQ-9",
    baseline_score=19,
    medical_clearance=True,
    cardiovascular_assessment=True,
    uncontrolled_hypertension=False,
    active_substance_use_disorder=False,
    uncontrolled_seizure_disorder=False,
    active_suicidal_ideation_requiring_intervention=False,
)


def test_eligible_patient() -> None:
    result = screen(ELIGIBLE)
    assert result.eligible
    assert result.unmet == {}
    assert json.loads(json.dumps(result.as_dict())) == {"eligible": True, "unmet": {}}


@pytest.mark.parametrize(
    ("changes", "path", "words"),
    [
        ({"failed_antidepressant_trials": 1}, "failed_antidepressant_trials", "At least 2"),
        ({"failed_antidepressant_trials": 0}, "failed_antidepressant_trials", "0 recorded"),
        ({"prior_inadequate_response": ()}, "prior_inadequate_response", "TMS alone"),
        ({"prior_inadequate_response": ("ect",)}, "prior_inadequate_response", "ketamine"),
        ({"baseline_instrument": None}, "baseline", "baseline"),
        ({"baseline_score": None}, "baseline", "PHQ-9 or MADRS"),
        ({"baseline_instrument": "HAM-D"}, "baseline", "MADRS"),
        ({"baseline_score": 28}, "baseline", "0 to 27"),
        ({"baseline_score": -1}, "baseline", "0 to 27"),
        ({"baseline_instrument": "MADRS", "baseline_score": 61}, "baseline", "0 to 60"),
        ({"medical_clearance": False}, "medical_clearance", "Medical clearance"),
        ({"cardiovascular_assessment": False}, "cardiovascular_assessment", "cardiovascular"),
        (
            {"active_suicidal_ideation_requiring_intervention": True},
            "active_suicidal_ideation_requiring_intervention",
            "suicidal ideation",
        ),
        ({"uncontrolled_hypertension": True}, "uncontrolled_hypertension", "hypertension"),
        ({"active_substance_use_disorder": True}, "active_substance_use_disorder", "substance"),
        ({"uncontrolled_seizure_disorder": True}, "uncontrolled_seizure_disorder", "seizure"),
    ],
)
def test_each_unmet_criterion_is_named(changes: dict[str, Any], path: str, words: str) -> None:
    result = screen(dataclasses.replace(ELIGIBLE, **changes))
    assert not result.eligible
    assert list(result.unmet) == [f"screening.{path}"]
    assert words in result.unmet[f"screening.{path}"][0]


@pytest.mark.parametrize(
    ("changes"),
    [
        {"failed_antidepressant_trials": 5},
        {"prior_inadequate_response": ("ketamine",)},
        {"prior_inadequate_response": ("tms", "ketamine")},
        {"baseline_instrument": "MADRS", "baseline_score": 60},
        {"baseline_score": 10},  # rules-2: baseline severity at least moderate
        {"baseline_score": 27},
        {"baseline_instrument": "MADRS", "baseline_score": 20},
    ],
)
def test_eligible_variants(changes: dict[str, Any]) -> None:
    assert screen(dataclasses.replace(ELIGIBLE, **changes)).eligible


@pytest.mark.parametrize(
    ("instrument", "score", "eligible"),
    [("PHQ-9", 9, False), ("PHQ-9", 10, True), ("MADRS", 19, False), ("MADRS", 20, True)],
)
def test_baseline_severity_9_10(instrument: str, score: int, eligible: bool) -> None:
    s = dataclasses.replace(ELIGIBLE, baseline_instrument=instrument, baseline_score=score)
    result = screen(s)
    assert result.eligible is eligible
    if not eligible:
        assert list(result.unmet) == ["screening.baseline.score"]
        assert "at least moderate" in result.unmet["screening.baseline.score"][0]


def test_a_clinic_may_require_a_more_severe_baseline() -> None:
    s = dataclasses.replace(ELIGIBLE, baseline_instrument="PHQ-9", baseline_score=12)
    assert not screen(s, min_phq9=15).eligible


def test_everything_failing_names_everything() -> None:
    worst = Screening(
        failed_antidepressant_trials=0,
        prior_inadequate_response=(),
        baseline_instrument=None,
        baseline_score=None,
        medical_clearance=False,
        cardiovascular_assessment=False,
        uncontrolled_hypertension=True,
        active_substance_use_disorder=True,
        uncontrolled_seizure_disorder=True,
        active_suicidal_ideation_requiring_intervention=True,
    )
    result = screen(worst)
    assert not result.eligible
    assert set(result.unmet) == {
        "screening.failed_antidepressant_trials",
        "screening.prior_inadequate_response",
        "screening.baseline",
        "screening.medical_clearance",
        "screening.cardiovascular_assessment",
        "screening.active_suicidal_ideation_requiring_intervention",
        "screening.uncontrolled_hypertension",
        "screening.active_substance_use_disorder",
        "screening.uncontrolled_seizure_disorder",
    }
    assert all(
        len(messages) == 1 and messages[0].endswith(".") for messages in result.unmet.values()
    )


@pytest.mark.parametrize(
    ("instrument", "score", "expected"),
    [
        ("PHQ-9", 19, 19),
        ("PHQ-9", 0, 0),
        ("MADRS", 30, None),
        (None, None, None),
        ("PHQ-9", 40, None),
    ],
)
def test_baseline_phq9(instrument: str | None, score: int | None, expected: int | None) -> None:
    s = dataclasses.replace(ELIGIBLE, baseline_instrument=instrument, baseline_score=score)
    assert baseline_phq9(s) == expected


def contract_screening(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "failed_antidepressant_trials": 3,
        "prior_inadequate_response": ["tms", "ketamine"],
        "baseline": {"instrument": "MADRS", "score": 34},
        "medical_clearance": True,
        "cardiovascular_assessment": True,
        "uncontrolled_hypertension": False,
        "active_substance_use_disorder": False,
        "uncontrolled_seizure_disorder": False,
        "active_suicidal_ideation_requiring_intervention": False,
    }
    data.update(overrides)
    return data


def test_from_contract_mapping() -> None:
    s = Screening.from_mapping(contract_screening())
    assert s.prior_inadequate_response == ("tms", "ketamine")
    assert (s.baseline_instrument, s.baseline_score) == ("MADRS", 34)
    assert screen(s).eligible
    missing = Screening.from_mapping(contract_screening(baseline=None))
    assert list(screen(missing).unmet) == ["screening.baseline"]


@pytest.mark.parametrize(
    ("overrides", "paths"),
    [
        ({"failed_antidepressant_trials": True}, {"screening.failed_antidepressant_trials"}),
        ({"failed_antidepressant_trials": "2"}, {"screening.failed_antidepressant_trials"}),
        ({"prior_inadequate_response": ["ect"]}, {"screening.prior_inadequate_response"}),
        ({"prior_inadequate_response": "tms"}, {"screening.prior_inadequate_response"}),
        ({"baseline": {"instrument": "BDI", "score": 3}}, {"screening.baseline.instrument"}),
        ({"baseline": {"instrument": "PHQ-9", "score": 3.5}}, {"screening.baseline.score"}),
        ({"baseline": 12}, {"screening.baseline"}),
        ({"medical_clearance": 1}, {"screening.medical_clearance"}),
        ({"surprise": True}, {"screening.surprise"}),
    ],
)
def test_from_mapping_refuses_bad_shapes(overrides: dict[str, Any], paths: set[str]) -> None:
    with pytest.raises(InvalidInput) as caught:
        Screening.from_mapping(contract_screening(**overrides))
    assert set(caught.value.errors) == paths


def test_from_mapping_refuses_non_object() -> None:
    with pytest.raises(InvalidInput) as caught:
        Screening.from_mapping(None)
    assert list(caught.value.errors) == ["screening"]
