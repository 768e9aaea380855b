"""Post-session symptom report: twelve side effects 0-3, suicidal thoughts, seizure, fainting.

The checklist follows the protocol's monitoring list: dissociation (the CADSS construct),
psychotomimetic effects (BPRS+: perceptual disturbances, confusion, agitation), common ketamine
and TMS effects, and bladder symptoms of ketamine cystitis with repeated dosing. The five ASRM
items ride along for manic-switch monitoring.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, cast

from clinical._checks import int_in_range
from clinical.asrm import AsrmScore, asrm_from_values, validate_asrm
from clinical.errors import InvalidInput

VERSION = "symptoms-1"

SYMPTOMS: tuple[str, ...] = (
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

NONE = 0
MILD = 1
MODERATE = 2
SEVERE = 3
LEVEL_LABELS: tuple[str, ...] = ("none", "mild", "moderate", "severe")

SUICIDAL_THOUGHTS_MIN = 0
SUICIDAL_THOUGHTS_MAX = 3
NOTES_MAX_CHARS = 2000


@dataclass(frozen=True, slots=True)
class SymptomReport:
    """A validated post-session report; `symptoms` is read-only and in SYMPTOMS order."""

    symptoms: Mapping[str, int]
    asrm: AsrmScore
    suicidal_thoughts: int
    seizure: bool
    fainted: bool
    notes: str | None
    version: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "symptoms": dict(self.symptoms),
            "asrm": self.asrm.as_dict(),
            "suicidal_thoughts": self.suicidal_thoughts,
            "seizure": self.seizure,
            "fainted": self.fainted,
            "notes": self.notes,
            "version": self.version,
        }


def _check_symptoms(symptoms: object, errors: dict[str, list[str]]) -> dict[str, int]:
    if not isinstance(symptoms, Mapping):
        errors["symptoms"] = ["Expected an object with a 0-3 rating for each symptom."]
        return {}
    message = f"Must be an integer from {NONE} to {SEVERE}."
    values: dict[str, int] = {}
    for name in SYMPTOMS:
        if name not in symptoms:
            errors[f"symptoms.{name}"] = ["Required."]
        elif int_in_range(symptoms[name], NONE, SEVERE):
            values[name] = symptoms[name]
        else:
            errors[f"symptoms.{name}"] = [message]
    for key in symptoms:
        if key not in SYMPTOMS:
            errors[f"symptoms.{key}"] = ["Unknown symptom."]
    return values


def score_symptom_report(
    *,
    symptoms: Mapping[str, object],
    asrm: Sequence[object],
    suicidal_thoughts: object,
    seizure: object,
    fainted: object,
    notes: object = None,
) -> SymptomReport:
    """Validate a post-session report, collecting every problem into one InvalidInput."""
    errors: dict[str, list[str]] = {}
    values = _check_symptoms(symptoms, errors)
    asrm_values, asrm_errors = validate_asrm(asrm, path="asrm")
    errors.update(asrm_errors)
    if not int_in_range(suicidal_thoughts, SUICIDAL_THOUGHTS_MIN, SUICIDAL_THOUGHTS_MAX):
        errors["suicidal_thoughts"] = [
            f"Must be an integer from {SUICIDAL_THOUGHTS_MIN} to {SUICIDAL_THOUGHTS_MAX}."
        ]
    for name, flag in (("seizure", seizure), ("fainted", fainted)):
        if not isinstance(flag, bool):
            errors[name] = ["Must be true or false."]
    if notes is not None and not isinstance(notes, str):
        errors["notes"] = ["Must be a string or null."]
    elif isinstance(notes, str) and len(notes) > NOTES_MAX_CHARS:
        errors["notes"] = [f"Must be at most {NOTES_MAX_CHARS} characters, got {len(notes)}."]
    if errors:
        raise InvalidInput(errors)

    # Blank notes carry nothing, so they are stored as absent.
    kept_notes = notes if isinstance(notes, str) and notes.strip() else None
    return SymptomReport(
        symptoms=MappingProxyType(values),
        asrm=asrm_from_values(asrm_values),
        suicidal_thoughts=cast(int, suicidal_thoughts),
        seizure=seizure is True,
        fainted=fainted is True,
        notes=kept_notes,
        version=VERSION,
    )


def severe_symptoms(report: SymptomReport, *, level: int = SEVERE) -> list[str]:
    """Names of the symptoms rated at or above `level` (default 3, severe), in SYMPTOMS order."""
    return [name for name in SYMPTOMS if report.symptoms.get(name, NONE) >= level]
