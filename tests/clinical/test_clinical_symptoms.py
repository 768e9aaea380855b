"""Post-session symptom report validation."""

from __future__ import annotations

from typing import Any

import pytest

from clinical.errors import InvalidInput
from clinical.symptoms import (
    NOTES_MAX_CHARS,
    SYMPTOMS,
    score_symptom_report,
    severe_symptoms,
)


def report_kwargs(**overrides: Any) -> dict[str, Any]:
    """A valid report's arguments, with overrides."""
    kwargs: dict[str, Any] = {
        "symptoms": dict.fromkeys(SYMPTOMS, 0),
        "asrm": [0, 0, 0, 0, 0],
        "suicidal_thoughts": 0,
        "seizure": False,
        "fainted": False,
        "notes": None,
    }
    kwargs.update(overrides)
    return kwargs


def test_symptom_names_are_fixed() -> None:
    assert SYMPTOMS == (
        "dissociation",
        "perceptual_disturbances",
        "confusion",
        "agitation",
        "nausea",
        "headache",
        "scalp_pain",
        "dizziness",
        "drowsiness",
        "blurred_vision",
        "bladder_pain",
        "urinary_urgency",
    )


def test_valid_report() -> None:
    symptoms = dict.fromkeys(SYMPTOMS, 1)
    symptoms["nausea"] = 3
    symptoms["headache"] = 3
    report = score_symptom_report(
        **report_kwargs(symptoms=symptoms, asrm=[1, 2, 1, 1, 1], notes="felt floaty")
    )
    assert report.asrm.total == 6
    assert report.notes == "felt floaty"
    assert report.version == "symptoms-1"
    assert list(report.symptoms) == list(SYMPTOMS)
    assert severe_symptoms(report) == ["nausea", "headache"]
    assert report.as_dict()["symptoms"]["nausea"] == 3
    with pytest.raises(TypeError):
        report.symptoms["nausea"] = 0  # type: ignore[index]


@pytest.mark.parametrize(
    ("overrides", "paths"),
    [
        ({"symptoms": {k: 0 for k in SYMPTOMS if k != "nausea"}}, {"symptoms.nausea"}),
        ({"symptoms": {**dict.fromkeys(SYMPTOMS, 0), "itch": 1}}, {"symptoms.itch"}),
        ({"symptoms": {**dict.fromkeys(SYMPTOMS, 0), "nausea": True}}, {"symptoms.nausea"}),
        ({"symptoms": {**dict.fromkeys(SYMPTOMS, 0), "nausea": 4}}, {"symptoms.nausea"}),
        ({"symptoms": {**dict.fromkeys(SYMPTOMS, 0), "nausea": -1}}, {"symptoms.nausea"}),
        ({"symptoms": {**dict.fromkeys(SYMPTOMS, 0), "nausea": "2"}}, {"symptoms.nausea"}),
        ({"symptoms": {**dict.fromkeys(SYMPTOMS, 0), "nausea": 2.0}}, {"symptoms.nausea"}),
        ({"symptoms": [0] * 12}, {"symptoms"}),
        ({"asrm": [0, 0, 0, 0]}, {"asrm"}),
        ({"asrm": [0, 0, 0, 0, True]}, {"asrm.4"}),
        ({"suicidal_thoughts": True}, {"suicidal_thoughts"}),
        ({"suicidal_thoughts": 4}, {"suicidal_thoughts"}),
        ({"suicidal_thoughts": None}, {"suicidal_thoughts"}),
        ({"seizure": 0}, {"seizure"}),
        ({"fainted": "no"}, {"fainted"}),
        ({"notes": 5}, {"notes"}),
        ({"notes": "x" * (NOTES_MAX_CHARS + 1)}, {"notes"}),
    ],
)
def test_invalid_reports_name_the_field(overrides: dict[str, Any], paths: set[str]) -> None:
    with pytest.raises(InvalidInput) as caught:
        score_symptom_report(**report_kwargs(**overrides))
    assert set(caught.value.errors) == paths


def test_notes_at_limit_and_blank() -> None:
    assert score_symptom_report(**report_kwargs(notes="x" * NOTES_MAX_CHARS)).notes
    assert score_symptom_report(**report_kwargs(notes="   ")).notes is None


def test_every_problem_is_collected() -> None:
    with pytest.raises(InvalidInput) as caught:
        score_symptom_report(
            symptoms={"nausea": 9},
            asrm="x",
            suicidal_thoughts=False,
            seizure=None,
            fainted=1,
            notes=[],
        )
    errors = caught.value.errors
    assert {"symptoms.nausea", "symptoms.headache", "asrm", "suicidal_thoughts"} <= set(errors)
    assert {"seizure", "fainted", "notes"} <= set(errors)
    assert len([p for p in errors if p.startswith("symptoms.")]) == 12
