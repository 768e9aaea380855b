"""FHIR R4 resources built from Tandem's records, checked by the fhir.resources models.

Mapping choices (see README, "For the integrator"):
- PHQ-9: Questionnaire `phq-9` coded with the LOINC panel 44249-1; item linkIds are the item
  LOINC codes (44250-9 ... 44260-8, 69722-7 for the difficulty item, 44261-6 for the total);
  answers are LOINC answer codes (LL358-3: LA6568-5/LA6569-3/LA6570-1/LA6571-9; LL359-1 for the
  difficulty item), with their 0-3 scores as the ordinalValue extension, after the HL7 SDC
  PHQ-9 example.
- ASRM: no LOINC codes are known for its items, so none are invented: local linkIds and a
  Tandem CodeSystem, integer answers 0-4.
- PHQ-9 total: Observation code LOINC 44261-6, category `survey`, valueInteger, derivedFrom
  the QuestionnaireResponse.
- Session vitals: blood pressure as the FHIR core vital-signs `bp` profile (85354-9 with
  components 8480-6 systolic and 8462-4 diastolic, mm[Hg]) and heart rate as `heartrate`
  (8867-4, /min).

fhir.resources ships R4B (4.3) models, whose Patient, Questionnaire, QuestionnaireResponse,
Observation, Bundle, CapabilityStatement and OperationOutcome are unchanged from R4 (4.0.1)
for every element used here; the server declares fhirVersion 4.0.1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fhir.resources.R4B import get_fhir_model_class

from clinical import asrm, phq9

if TYPE_CHECKING:
    from services.fhir import Vitals
    from store.models import PatientProfile
    from store.reports import Phq9Checkin

FHIR_VERSION = "4.0.1"
FHIR_JSON = "application/fhir+json"
NDJSON = "application/fhir+ndjson"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CANONICAL = "https://tandem.example/fhir"
PATIENT_ID_SYSTEM = f"{CANONICAL}/sid/patient-id"
ASRM_SYSTEM = f"{CANONICAL}/CodeSystem/asrm"
ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
BP_PROFILE = "http://hl7.org/fhir/StructureDefinition/bp"
HR_PROFILE = "http://hl7.org/fhir/StructureDefinition/heartrate"

PHQ9_QUESTIONNAIRE = f"{CANONICAL}/Questionnaire/phq-9"
ASRM_QUESTIONNAIRE = f"{CANONICAL}/Questionnaire/asrm"

PHQ9_TOTAL = "44261-6"
BP_PANEL = "85354-9"
SYSTOLIC = "8480-6"
DIASTOLIC = "8462-4"
HEART_RATE = "8867-4"
# The Observation codes this server holds, each with its display and id prefix.
OBSERVATION_CODES: dict[str, tuple[str, str]] = {
    PHQ9_TOTAL: ("phq9", "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]"),
    BP_PANEL: ("bp", "Blood pressure panel with all children optional"),
    HEART_RATE: ("hr", "Heart rate"),
}
PHQ9_PANEL_DISPLAY = "Patient Health Questionnaire 9 item (PHQ-9) [Reported]"
DIFFICULTY_TEXT = (
    "If you checked off any problems, how difficult have these problems made it for you to "
    "do your work, take care of things at home, or get along with other people?"
)


def instant(moment: datetime) -> str:
    """An instant with an explicit offset (UTC)."""
    return moment.astimezone(UTC).isoformat()


def validated(resource: Mapping[str, Any]) -> dict[str, Any]:
    """The resource as the fhir.resources model reads and writes it back (raises if invalid)."""
    model = get_fhir_model_class(str(resource["resourceType"]))
    dumped: dict[str, Any] = model.model_validate(dict(resource)).model_dump(
        mode="json", exclude_none=True
    )
    return dumped


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _ordinal(value: int) -> list[dict[str, Any]]:
    return [{"url": ORDINAL, "valueDecimal": value}]


# --- Questionnaires --------------------------------------------------------------------------


def phq9_questionnaire() -> dict[str, Any]:
    """The PHQ-9 as a Questionnaire, after the HL7 SDC / US Core PHQ-9 examples."""
    options = [
        {
            "valueCoding": {
                **_coding(LOINC, phq9.ANSWER_LOINC[v], phq9.ANSWER_LABELS[v]),
                "extension": _ordinal(v),
            }
        }
        for v in range(phq9.ITEM_MIN, phq9.ITEM_MAX + 1)
    ]
    difficulty = [
        {"valueCoding": _coding(LOINC, phq9.DIFFICULTY_ANSWER_LOINC[v], phq9.DIFFICULTY_LABELS[v])}
        for v in range(4)
    ]
    items: list[dict[str, Any]] = [
        {
            "linkId": item.loinc,
            "code": [_coding(LOINC, item.loinc)],
            "prefix": f"{item.number}.",
            "text": item.construct,
            "type": "choice",
            "answerOption": options,
        }
        for item in phq9.ITEMS
    ]
    items.append(
        {
            "linkId": phq9.DIFFICULTY_LOINC,
            "code": [_coding(LOINC, phq9.DIFFICULTY_LOINC)],
            "prefix": "10.",
            "text": DIFFICULTY_TEXT,
            "type": "choice",
            "answerOption": difficulty,
        }
    )
    items.append(
        {
            "linkId": phq9.TOTAL_LOINC,
            "code": [_coding(LOINC, phq9.TOTAL_LOINC, OBSERVATION_CODES[PHQ9_TOTAL][1])],
            "text": "Total score (0-27; prorated when one or two items were skipped)",
            "type": "integer",
            "readOnly": True,
        }
    )
    return {
        "resourceType": "Questionnaire",
        "id": "phq-9",
        "url": PHQ9_QUESTIONNAIRE,
        "version": phq9.VERSION,
        "name": "PHQ9",
        "title": "Patient Health Questionnaire-9 (PHQ-9)",
        "status": "active",
        "subjectType": ["Patient"],
        "copyright": "PHQ-9: Pfizer Inc.; free to reproduce, translate, display or distribute.",
        "code": [_coding(LOINC, phq9.PANEL_LOINC, PHQ9_PANEL_DISPLAY)],
        "item": [
            {
                "linkId": phq9.PANEL_LOINC,
                "code": [_coding(LOINC, phq9.PANEL_LOINC, PHQ9_PANEL_DISPLAY)],
                "text": "Over the last 2 weeks, how often have you been bothered by any of "
                "the following problems?",
                "type": "group",
                "item": items,
            }
        ],
    }


def asrm_questionnaire() -> dict[str, Any]:
    """The ASRM: five items 0-4; local codes, as no LOINC codes are known for its items."""
    items: list[dict[str, Any]] = [
        {
            "linkId": f"asrm-{item.number}",
            "code": [_coding(ASRM_SYSTEM, f"item-{item.number}", item.construct)],
            "prefix": f"{item.number}.",
            "text": item.construct,
            "type": "choice",
            "answerOption": [{"valueInteger": v} for v in range(asrm.ITEM_MIN, asrm.ITEM_MAX + 1)],
            "required": True,
        }
        for item in asrm.ITEMS
    ]
    items.append(
        {
            "linkId": "asrm-total",
            "code": [_coding(ASRM_SYSTEM, "total", "ASRM total score")],
            "text": f"Total score (0-20; {asrm.POSITIVE_CUTOFF} or more screens positive)",
            "type": "integer",
            "readOnly": True,
        }
    )
    return {
        "resourceType": "Questionnaire",
        "id": "asrm",
        "url": ASRM_QUESTIONNAIRE,
        "version": asrm.VERSION,
        "name": "ASRM",
        "title": "Altman Self-Rating Mania Scale (ASRM)",
        "status": "active",
        "subjectType": ["Patient"],
        "item": items,
    }


QUESTIONNAIRES = {"phq-9": phq9_questionnaire, "asrm": asrm_questionnaire}


# --- Patient data ----------------------------------------------------------------------------


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


def _subject(patient_id: int) -> dict[str, str]:
    return {"reference": f"Patient/{patient_id}"}


def phq9_response(row: Phq9Checkin) -> dict[str, Any]:
    """QuestionnaireResponse for a PHQ-9 check-in: LOINC linkIds and LOINC answer codings."""
    items: list[dict[str, Any]] = []
    for item, answer in zip(phq9.ITEMS, row.answers, strict=False):
        entry: dict[str, Any] = {"linkId": item.loinc, "text": item.construct}
        if answer is not None:
            entry["answer"] = [
                {
                    "valueCoding": {
                        **_coding(LOINC, phq9.ANSWER_LOINC[answer], phq9.ANSWER_LABELS[answer]),
                        "extension": _ordinal(answer),
                    }
                }
            ]
        items.append(entry)  # a skipped item keeps its place, without an answer
    if row.difficulty is not None:
        items.append(
            {
                "linkId": phq9.DIFFICULTY_LOINC,
                "answer": [
                    {
                        "valueCoding": _coding(
                            LOINC,
                            phq9.DIFFICULTY_ANSWER_LOINC[row.difficulty],
                            phq9.DIFFICULTY_LABELS[row.difficulty],
                        )
                    }
                ],
            }
        )
    items.append({"linkId": phq9.TOTAL_LOINC, "answer": [{"valueInteger": row.total}]})
    return {
        "resourceType": "QuestionnaireResponse",
        "id": f"phq9-{row.id}",
        "questionnaire": PHQ9_QUESTIONNAIRE,
        "status": "completed",
        "subject": _subject(row.patient_id),
        "authored": instant(row.answered_at),
        "item": [{"linkId": phq9.PANEL_LOINC, "item": items}],
    }


def asrm_response(row: Phq9Checkin) -> dict[str, Any] | None:
    """QuestionnaireResponse for the ASRM asked with a check-in, if it was."""
    if row.asrm_answers is None or row.asrm_total is None:
        return None
    items: list[dict[str, Any]] = [
        {"linkId": f"asrm-{item.number}", "answer": [{"valueInteger": value}]}
        for item, value in zip(asrm.ITEMS, row.asrm_answers, strict=False)
    ]
    items.append({"linkId": "asrm-total", "answer": [{"valueInteger": row.asrm_total}]})
    return {
        "resourceType": "QuestionnaireResponse",
        "id": f"asrm-{row.id}",
        "questionnaire": ASRM_QUESTIONNAIRE,
        "status": "completed",
        "subject": _subject(row.patient_id),
        "authored": instant(row.answered_at),
        "item": items,
    }


def responses(row: Phq9Checkin) -> list[dict[str, Any]]:
    """Every QuestionnaireResponse one check-in makes (the PHQ-9, and the ASRM if asked)."""
    found = [phq9_response(row)]
    mania = asrm_response(row)
    if mania is not None:
        found.append(mania)
    return found


def _category(code: str, display: str) -> list[dict[str, Any]]:
    return [{"coding": [_coding(OBS_CATEGORY, code, display)], "text": display}]


def phq9_total(row: Phq9Checkin) -> dict[str, Any]:
    """Observation: the PHQ-9 total (valueInteger), derived from its QuestionnaireResponse."""
    return {
        "resourceType": "Observation",
        "id": f"phq9-{row.id}",
        "status": "final",
        "category": _category("survey", "Survey"),
        "code": {
            "coding": [_coding(LOINC, PHQ9_TOTAL, OBSERVATION_CODES[PHQ9_TOTAL][1])],
            "text": "PHQ-9 total score",
        },
        "subject": _subject(row.patient_id),
        "effectiveDateTime": instant(row.answered_at),
        "issued": instant(row.received_at),
        "valueInteger": row.total,
        "interpretation": [{"text": row.severity.replace("_", " ")}],
        "derivedFrom": [{"reference": f"QuestionnaireResponse/phq9-{row.id}"}],
    }


def _quantity(value: int, unit: str, code: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": code}


def blood_pressure(v: Vitals) -> dict[str, Any]:
    """Observation (FHIR core `bp` profile): systolic and diastolic components in mm[Hg]."""
    r = v.reading
    return {
        "resourceType": "Observation",
        "id": f"bp-{r.id}",
        "meta": {"profile": [BP_PROFILE]},
        "status": "final",
        "category": _category("vital-signs", "Vital Signs"),
        "code": {
            "coding": [_coding(LOINC, BP_PANEL, OBSERVATION_CODES[BP_PANEL][1])],
            "text": "Blood pressure",
        },
        "subject": _subject(v.patient_id),
        "effectiveDateTime": instant(r.at),
        "component": [
            {
                "code": {"coding": [_coding(LOINC, SYSTOLIC, "Systolic blood pressure")]},
                "valueQuantity": _quantity(r.systolic, "mmHg", "mm[Hg]"),
            },
            {
                "code": {"coding": [_coding(LOINC, DIASTOLIC, "Diastolic blood pressure")]},
                "valueQuantity": _quantity(r.diastolic, "mmHg", "mm[Hg]"),
            },
        ],
    }


def heart_rate(v: Vitals) -> dict[str, Any] | None:
    """Observation (FHIR core `heartrate` profile) in beats per minute, if one was taken."""
    r = v.reading
    if r.heart_rate is None:
        return None
    return {
        "resourceType": "Observation",
        "id": f"hr-{r.id}",
        "meta": {"profile": [HR_PROFILE]},
        "status": "final",
        "category": _category("vital-signs", "Vital Signs"),
        "code": {
            "coding": [_coding(LOINC, HEART_RATE, OBSERVATION_CODES[HEART_RATE][1])],
            "text": "Heart rate",
        },
        "subject": _subject(v.patient_id),
        "effectiveDateTime": instant(r.at),
        "valueQuantity": _quantity(r.heart_rate, "beats/minute", "/min"),
    }


def vitals_observations(v: Vitals) -> list[dict[str, Any]]:
    """The blood pressure and (when taken) heart rate of one reading."""
    found = [blood_pressure(v)]
    hr = heart_rate(v)
    if hr is not None:
        found.append(hr)
    return found


# --- Bundles, errors, capabilities ------------------------------------------------------------


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


def capability_statement(base: str, *, now: datetime) -> dict[str, Any]:
    """What this read-only server offers."""

    def rest_resource(kind: str, read: bool = True, search: bool = True) -> dict[str, Any]:
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

    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": instant(now),
        "kind": "instance",
        "software": {"name": "Tandem"},
        "implementation": {"description": "Tandem FHIR R4 read API", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": [FHIR_JSON, "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Read-only. Bearer token of a clinician; every read is "
                "scoped to the clinician's clinic and audited. Searches page with _count "
                "(max 200) and the next link.",
                "security": {
                    "service": [
                        {
                            "coding": [
                                _coding(
                                    "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "OAuth",
                                )
                            ],
                            "text": "Bearer token (JWT) from POST /api/v1/auth/login",
                        }
                    ]
                },
                "resource": [
                    rest_resource("Patient"),
                    rest_resource("Questionnaire"),
                    rest_resource("QuestionnaireResponse"),
                    rest_resource("Observation"),
                ],
                "operation": [
                    {
                        "name": "export",
                        "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                    }
                ],
            }
        ],
    }
