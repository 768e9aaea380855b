"""The FHIR datatypes the resources are made of: instant, Coding, CodeableConcept, Reference,
Quantity and the ordinalValue extension."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fhir_r4.resources.vocabulary import OBS_CATEGORY, ORDINAL, UCUM


def instant(moment: datetime) -> str:
    """An instant with an explicit offset (UTC)."""
    return moment.astimezone(UTC).isoformat()


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def ordinal(value: int) -> list[dict[str, Any]]:
    """The ordinalValue extension: an answer's score."""
    return [{"url": ORDINAL, "valueDecimal": value}]


def subject(patient_id: int) -> dict[str, str]:
    """A Reference to the Patient."""
    return {"reference": f"Patient/{patient_id}"}


def category(code: str, display: str) -> list[dict[str, Any]]:
    """An Observation category (survey, vital-signs)."""
    return [{"coding": [coding(OBS_CATEGORY, code, display)], "text": display}]


def quantity(value: int, unit: str, code: str) -> dict[str, Any]:
    """A UCUM Quantity."""
    return {"value": value, "unit": unit, "system": UCUM, "code": code}
