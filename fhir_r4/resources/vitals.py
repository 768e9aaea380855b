"""Session vitals as Observations: blood pressure as the FHIR core vital-signs `bp` profile
(85354-9 with components 8480-6 systolic and 8462-4 diastolic, mm[Hg]) and heart rate as
`heartrate` (8867-4, /min)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fhir_r4.resources.datatypes import category, coding, instant, quantity, subject
from fhir_r4.resources.vocabulary import (
    BP_PANEL,
    BP_PROFILE,
    DIASTOLIC,
    HEART_RATE,
    HR_PROFILE,
    LOINC,
    OBSERVATION_CODES,
    SYSTOLIC,
)

if TYPE_CHECKING:
    from services.fhir.scope import Vitals


def _vital_sign(v: Vitals, *, code: str, profile: str, text: str) -> dict[str, Any]:
    """The parts every vital-signs Observation of a reading shares, before its value."""
    return {
        "resourceType": "Observation",
        "id": f"{OBSERVATION_CODES[code][0]}-{v.reading.id}",
        "meta": {"profile": [profile]},
        "status": "final",
        "category": category("vital-signs", "Vital Signs"),
        "code": {"coding": [coding(LOINC, code, OBSERVATION_CODES[code][1])], "text": text},
        "subject": subject(v.patient_id),
        "effectiveDateTime": instant(v.reading.at),
    }


def blood_pressure(v: Vitals) -> dict[str, Any]:
    """Observation (FHIR core `bp` profile): systolic and diastolic components in mm[Hg]."""
    r = v.reading
    return {
        **_vital_sign(v, code=BP_PANEL, profile=BP_PROFILE, text="Blood pressure"),
        "component": [
            {
                "code": {"coding": [coding(LOINC, SYSTOLIC, "Systolic blood pressure")]},
                "valueQuantity": quantity(r.systolic, "mmHg", "mm[Hg]"),
            },
            {
                "code": {"coding": [coding(LOINC, DIASTOLIC, "Diastolic blood pressure")]},
                "valueQuantity": quantity(r.diastolic, "mmHg", "mm[Hg]"),
            },
        ],
    }


def heart_rate(v: Vitals) -> dict[str, Any] | None:
    """Observation (FHIR core `heartrate` profile) in beats per minute, if one was taken."""
    if v.reading.heart_rate is None:
        return None
    return {
        **_vital_sign(v, code=HEART_RATE, profile=HR_PROFILE, text="Heart rate"),
        "valueQuantity": quantity(v.reading.heart_rate, "beats/minute", "/min"),
    }


def vitals_observations(v: Vitals) -> list[dict[str, Any]]:
    """The blood pressure and (when taken) heart rate of one reading."""
    found = [blood_pressure(v)]
    hr = heart_rate(v)
    if hr is not None:
        found.append(hr)
    return found
