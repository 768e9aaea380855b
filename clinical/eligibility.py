"""Eligibility for combined IV ketamine + TMS: required criteria and absolute contraindications.

From the protocol: all of >= 2 failed adequate antidepressant trials; a prior inadequate
response to TMS alone or ketamine alone; a documented baseline MADRS or PHQ-9; medical
clearance including a cardiovascular assessment; no active suicidal ideation needing immediate
intervention. Any one of uncontrolled hypertension, an active substance use disorder or a
seizure disorder not controlled by medication excludes the patient.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clinical._checks import int_in_range, is_list_like, is_strict_int
from clinical.errors import InvalidInput

MIN_FAILED_TRIALS = 2
MAX_FAILED_TRIALS = 100

TMS = "tms"
KETAMINE = "ketamine"
PRIOR_MODALITIES: tuple[str, ...] = (TMS, KETAMINE)

PHQ9 = "PHQ-9"
MADRS = "MADRS"
BASELINE_RANGES: dict[str, tuple[int, int]] = {PHQ9: (0, 27), MADRS: (0, 60)}
# Baseline severity at least moderate (rules-2, a clinic setting that may only be stricter):
# PHQ-9 >= 10 (moderate, Kroenke 2001; HEDIS's elevated index score) or MADRS >= 20.
MIN_BASELINE_PHQ9 = 10
MIN_BASELINE_MADRS = 20
BASELINE_SEVERITY_PATH = "screening.baseline.score"

_P = "screening."
FAILED_TRIALS_PATH = _P + "failed_antidepressant_trials"
PRIOR_RESPONSE_PATH = _P + "prior_inadequate_response"
BASELINE_PATH = _P + "baseline"
CLEARANCE_PATH = _P + "medical_clearance"
CARDIOVASCULAR_PATH = _P + "cardiovascular_assessment"
SUICIDAL_IDEATION_PATH = _P + "active_suicidal_ideation_requiring_intervention"
HYPERTENSION_PATH = _P + "uncontrolled_hypertension"
SUBSTANCE_USE_PATH = _P + "active_substance_use_disorder"
SEIZURE_PATH = _P + "uncontrolled_seizure_disorder"

_BOOL_FIELDS: tuple[str, ...] = (
    "medical_clearance",
    "cardiovascular_assessment",
    "uncontrolled_hypertension",
    "active_substance_use_disorder",
    "uncontrolled_seizure_disorder",
    "active_suicidal_ideation_requiring_intervention",
)


@dataclass(frozen=True, slots=True)
class Screening:
    """The enrolment screening, mirroring the API contract's `screening` object."""

    failed_antidepressant_trials: int
    prior_inadequate_response: tuple[str, ...]
    baseline_instrument: str | None
    baseline_score: int | None
    medical_clearance: bool
    cardiovascular_assessment: bool
    uncontrolled_hypertension: bool
    active_substance_use_disorder: bool
    uncontrolled_seizure_disorder: bool
    active_suicidal_ideation_requiring_intervention: bool

    @classmethod
    def from_mapping(cls, data: object, *, path: str = "screening") -> Screening:
        """Build from the contract's JSON shape; type errors raise InvalidInput by field path."""
        if not isinstance(data, Mapping):
            raise InvalidInput({path: ["Expected a screening object."]})
        errors: dict[str, list[str]] = {}
        trials = data.get("failed_antidepressant_trials")
        if not int_in_range(trials, 0, MAX_FAILED_TRIALS):
            errors[f"{path}.failed_antidepressant_trials"] = [
                f"Must be an integer from 0 to {MAX_FAILED_TRIALS}."
            ]
        prior = data.get("prior_inadequate_response", [])
        if not is_list_like(prior) or any(p not in PRIOR_MODALITIES for p in prior):
            errors[f"{path}.prior_inadequate_response"] = [
                f"Must be a list of: {', '.join(PRIOR_MODALITIES)}."
            ]
        instrument, score = _baseline_from(data.get("baseline"), f"{path}.baseline", errors)
        flags: dict[str, bool] = {}
        for name in _BOOL_FIELDS:
            value = data.get(name)
            if isinstance(value, bool):
                flags[name] = value
            else:
                errors[f"{path}.{name}"] = ["Must be true or false."]
        known = {"failed_antidepressant_trials", "prior_inadequate_response", "baseline"}
        for key in data:
            if key not in known and key not in _BOOL_FIELDS:
                errors[f"{path}.{key}"] = ["Unknown field."]
        if errors:
            raise InvalidInput(errors)
        return cls(
            failed_antidepressant_trials=trials if is_strict_int(trials) else 0,
            prior_inadequate_response=tuple(str(p) for p in prior) if is_list_like(prior) else (),
            baseline_instrument=instrument,
            baseline_score=score,
            **flags,
        )


def _baseline_from(
    value: object, path: str, errors: dict[str, list[str]]
) -> tuple[str | None, int | None]:
    """Instrument and score from the baseline object; absent stays None for screen() to judge."""
    if value is None:
        return None, None
    if not isinstance(value, Mapping):
        errors[path] = ['Expected {"instrument": "PHQ-9" | "MADRS", "score": integer}.']
        return None, None
    instrument, score = value.get("instrument"), value.get("score")
    if instrument is not None and instrument not in BASELINE_RANGES:
        errors[f"{path}.instrument"] = [f"Must be one of: {', '.join(BASELINE_RANGES)}."]
    if score is not None and not is_strict_int(score):
        errors[f"{path}.score"] = ["Must be an integer."]
    return (
        instrument if isinstance(instrument, str) else None,
        score if is_strict_int(score) else None,
    )


@dataclass(frozen=True, slots=True)
class EligibilityResult:
    """Whether the patient may enrol; `unmet` names every unmet criterion and contraindication."""

    eligible: bool
    unmet: dict[str, list[str]]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"eligible": self.eligible, "unmet": {k: list(v) for k, v in self.unmet.items()}}


def _baseline_problem(s: Screening) -> str | None:
    if s.baseline_instrument is None or s.baseline_score is None:
        return "A documented baseline depression score (PHQ-9 or MADRS) is required."
    if s.baseline_instrument not in BASELINE_RANGES:
        return "The baseline must be measured with the PHQ-9 or the MADRS."
    low, high = BASELINE_RANGES[s.baseline_instrument]
    if not int_in_range(s.baseline_score, low, high):
        return f"A baseline {s.baseline_instrument} score must be from {low} to {high}."
    return None


def _severity_problem(s: Screening, *, min_phq9: int, min_madrs: int) -> str | None:
    minimum = {PHQ9: min_phq9, MADRS: min_madrs}.get(s.baseline_instrument or "")
    if minimum is None or not is_strict_int(s.baseline_score) or s.baseline_score >= minimum:
        return None
    return (
        f"Baseline severity must be at least moderate: {s.baseline_instrument} >= {minimum} "
        f"is required; {s.baseline_score} recorded."
    )


def screen(
    s: Screening, *, min_phq9: int = MIN_BASELINE_PHQ9, min_madrs: int = MIN_BASELINE_MADRS
) -> EligibilityResult:
    """Check every criterion and contraindication, naming each one that is not met."""
    unmet: dict[str, list[str]] = {}
    trials = s.failed_antidepressant_trials
    if not is_strict_int(trials) or trials < MIN_FAILED_TRIALS:
        unmet[FAILED_TRIALS_PATH] = [
            f"At least {MIN_FAILED_TRIALS} failed adequate antidepressant trials are required; "
            f"{trials} recorded."
        ]
    if not any(p in PRIOR_MODALITIES for p in s.prior_inadequate_response):
        unmet[PRIOR_RESPONSE_PATH] = [
            "A prior inadequate response to TMS alone or to ketamine alone is required."
        ]
    baseline = _baseline_problem(s)
    if baseline is not None:
        unmet[BASELINE_PATH] = [baseline]
    else:
        severity = _severity_problem(s, min_phq9=min_phq9, min_madrs=min_madrs)
        if severity is not None:
            unmet[BASELINE_SEVERITY_PATH] = [severity]
    if not s.medical_clearance:
        unmet[CLEARANCE_PATH] = ["Medical clearance for both ketamine and TMS is required."]
    if not s.cardiovascular_assessment:
        unmet[CARDIOVASCULAR_PATH] = [
            "A cardiovascular assessment (ketamine raises blood pressure) is required."
        ]
    if s.active_suicidal_ideation_requiring_intervention:
        unmet[SUICIDAL_IDEATION_PATH] = [
            "Active suicidal ideation requiring immediate intervention excludes this treatment; "
            "it needs immediate care first."
        ]
    if s.uncontrolled_hypertension:
        unmet[HYPERTENSION_PATH] = [
            "Uncontrolled hypertension is a contraindication: ketamine raises blood pressure."
        ]
    if s.active_substance_use_disorder:
        unmet[SUBSTANCE_USE_PATH] = [
            "An active substance use disorder is a contraindication: ketamine can be misused."
        ]
    if s.uncontrolled_seizure_disorder:
        unmet[SEIZURE_PATH] = [
            "A seizure disorder not controlled by medication is a contraindication: "
            "TMS lowers the seizure threshold."
        ]
    return EligibilityResult(eligible=not unmet, unmet=unmet)


def baseline_phq9(s: Screening) -> int | None:
    """The screening's baseline score when it is a PHQ-9 within 0-27, else None."""
    low, high = BASELINE_RANGES[PHQ9]
    if s.baseline_instrument == PHQ9 and int_in_range(s.baseline_score, low, high):
        return s.baseline_score
    return None
