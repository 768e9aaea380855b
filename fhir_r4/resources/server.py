"""What the server answers besides records: searchset Bundles, OperationOutcomes, the
CapabilityStatement, and the fhir.resources validation every answer passes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from fhir_r4.resources.datatypes import coding, instant
from fhir_r4.resources.vocabulary import BP_PROFILE, FHIR_JSON, FHIR_VERSION, HR_PROFILE


def validated(resource: Mapping[str, Any]) -> dict[str, Any]:
    """The resource as the fhir.resources model reads and writes it back (raises if invalid)."""
    model = get_fhir_model_class(str(resource["resourceType"]))
    dumped: dict[str, Any] = model.model_validate(dict(resource)).model_dump(
        mode="json", exclude_none=True
    )
    return dumped


def searchset(
    base: str,
    resources: Iterable[Mapping[str, Any]],
    *,
    self_url: str,
    next_url: str | None,
    total: int | None = None,
) -> dict[str, Any]:
    """A searchset Bundle with self and next links."""
    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [
            {
                "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
                "resource": dict(r),
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }
    if total is not None:
        bundle["total"] = total
    return bundle


ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    410: "deleted",
    413: "too-costly",
    415: "not-supported",
    422: "invalid",
    429: "throttled",
}


def operation_outcome(status: int, diagnostics: str, *, code: str | None = None) -> dict[str, Any]:
    """OperationOutcome for an error status."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error" if status < 500 else "fatal",
                "code": code or ISSUE_CODES.get(status, "exception"),
                "diagnostics": diagnostics,
            }
        ],
    }


SEARCH_PARAMS: dict[str, Sequence[tuple[str, str, str]]] = {
    "Patient": (("_id", "token", "The patient's id"),),
    "QuestionnaireResponse": (
        ("patient", "reference", "The patient (Patient/{id} or {id})"),
        ("questionnaire", "reference", "The Questionnaire's canonical URL"),
        ("authored", "date", "When it was answered (ge/le/gt/lt/eq)"),
    ),
    "Observation": (
        ("patient", "reference", "The patient (Patient/{id} or {id})"),
        ("code", "token", "http://loinc.org|44261-6, |85354-9 or |8867-4"),
        ("date", "date", "When it was measured (ge/le/gt/lt/eq)"),
    ),
}


def _rest_resource(kind: str, read: bool = True, search: bool = True) -> dict[str, Any]:
    """One resource type's interactions, search parameters, operations and profiles."""
    interactions = [{"code": "read"}] if read else []
    if search:
        interactions.append({"code": "search-type"})
    out: dict[str, Any] = {"type": kind, "interaction": interactions}
    if kind in SEARCH_PARAMS:
        out["searchParam"] = [
            {"name": n, "type": t, "documentation": d} for n, t, d in SEARCH_PARAMS[kind]
        ]
    if kind == "Patient":
        out["operation"] = [
            {
                "name": "everything",
                "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
            }
        ]
    if kind == "Observation":
        out["supportedProfile"] = [BP_PROFILE, HR_PROFILE]
    return out


def _rest() -> dict[str, Any]:
    """The server's one rest entry: read-only, bearer tokens, four resource types, $export."""
    return {
        "mode": "server",
        "documentation": "Read-only. Bearer token of a clinician; every read is "
        "scoped to the clinician's clinic and audited. Searches page with _count "
        "(max 200) and the next link.",
        "security": {
            "service": [
                {
                    "coding": [
                        coding(
                            "http://terminology.hl7.org/CodeSystem/restful-security-service",
                            "OAuth",
                        )
                    ],
                    "text": "Bearer token (JWT) from POST /api/v1/auth/login",
                }
            ]
        },
        "resource": [
            _rest_resource("Patient"),
            _rest_resource("Questionnaire"),
            _rest_resource("QuestionnaireResponse"),
            _rest_resource("Observation"),
        ],
        "operation": [
            {
                "name": "export",
                "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
            }
        ],
    }


def capability_statement(base: str, *, now: datetime) -> dict[str, Any]:
    """What this read-only server offers."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": instant(now),
        "kind": "instance",
        "software": {"name": "Tandem"},
        "implementation": {"description": "Tandem FHIR R4 read API", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": [FHIR_JSON, "json"],
        "rest": [_rest()],
    }
