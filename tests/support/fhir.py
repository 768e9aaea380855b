"""The FHIR tests' helpers: validating served resources, and the world with history."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from tests.support.world import World

BASE = "/fhir/R4"


def valid(body: dict[str, Any]) -> dict[str, Any]:
    """Validate a served resource (a Bundle validates every entry) with fhir.resources."""
    get_fhir_model_class(body["resourceType"]).model_validate(body)
    return body


def fhir_json(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/fhir+json"
    return valid(json.loads(response.get_data(as_text=True)))


@dataclass
class History:
    world: World
    checkins: list[int]
    sessions: list[int]
    cx: dict[str, str]
    cy: dict[str, str]
    pa: dict[str, str]
    admin: dict[str, str]
