"""Patient: who the patient is (the identifier, the name as entered, the mobile phone)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fhir_r4.resources.vocabulary import PATIENT_ID_SYSTEM

if TYPE_CHECKING:
    from store.models import PatientProfile


def patient(profile: PatientProfile) -> dict[str, Any]:
    """Patient: the identifier, the name as entered, the mobile phone."""
    user = profile.user
    out: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(profile.user_id),
        "identifier": [{"system": PATIENT_ID_SYSTEM, "value": str(profile.user_id)}],
        "active": user.is_active,
        "name": [{"text": user.name}] if user.name else None,
        "telecom": [{"system": "phone", "value": user.phone, "use": "mobile"}]
        if user.phone
        else None,
    }
    return {k: v for k, v in out.items() if v is not None}
