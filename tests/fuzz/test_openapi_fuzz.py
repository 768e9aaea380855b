"""Property-based fuzzing of every operation in the served OpenAPI document.

Schemathesis generates valid and invalid requests from the document for each operation
and each role; every answer must be a non-5xx whose status, content type and body are the
ones the document promises. New endpoints are fuzzed as soon as they are registered.
Reproducible: derandomised, no example database. Budget: MAX_EXAMPLES per operation and
role (the volume test below keeps the total at or above MIN_TOTAL_CASES).
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.harness import LiveApi, operations, served_openapi

SPEC = served_openapi()
ROLES = ("anonymous", "admin", "clinician_x", "patient_a")
MAX_EXAMPLES = 15
MIN_TOTAL_CASES = 1000
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_dict(SPEC)
CALLS: Counter[str] = Counter()
_turn = itertools.count()


def _real_ids(live: LiveApi) -> dict[str, list[int]]:
    """Ids that exist, so half the path-parameter cases reach real records."""
    w = live.world
    return {
        "clinic_id": [w.clinic_x, w.clinic_y],
        "patient_id": [w.patient_a, w.patient_b, w.patient_c_y],
        "user_id": [w.patient_a, w.clinician_x1],
        "clinician_id": [w.clinician_x1, w.clinician_y1],
    }


def _headers(live: LiveApi, role: str, path: str) -> dict[str, str]:
    if role == "anonymous":
        return {}
    return live.mint(role, refresh=path.endswith("/auth/refresh"))


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_operation_honours_its_document(case: Any, role: str, live_api: LiveApi) -> None:
    turn = next(_turn)
    ids = _real_ids(live_api)
    if turn % 2 == 0 and case.path_parameters:
        for name in list(case.path_parameters):
            if name in ids:
                case.path_parameters[name] = ids[name][turn % len(ids[name])]
    response = case.call_and_validate(
        app=live_api.app,
        headers=_headers(live_api, role, case.path),
        checks=CHECKS,
    )
    CALLS[f"{case.method} {case.path} {role} {response.status_code}"] += 1


def test_fuzz_budget_reaches_a_thousand_cases() -> None:
    """The configured budget generates at least MIN_TOTAL_CASES requests in CI."""
    count = sum(1 for _ in operations(SPEC))
    assert count * len(ROLES) * MAX_EXAMPLES >= MIN_TOTAL_CASES, (
        f"{count} operations x {len(ROLES)} roles x {MAX_EXAMPLES} examples is too few"
    )
