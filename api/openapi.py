"""What the OpenAPI document adds for client generators: operation ids, descriptions, examples.

One plugin, so no view or schema repeats it: each operation gets an `operationId` from
OPERATION_IDS (a generated client's method names) and a description (its docstring, and who
may call it); each schema gets a description (its docstring) and an example built from its
fields (a field's own `example`, else the first of its enum, else a value of its type).
"""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec, BasePlugin
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields, validate

from api import fields as tandem_fields

# (method, path) -> operationId: the method names a generated client gets.
OPERATION_IDS: dict[tuple[str, str], str] = {
    ("get", "/healthz"): "getHealth",
    ("get", "/readyz"): "getReadiness",
    ("post", "/api/v1/auth/login"): "login",
    ("post", "/api/v1/auth/refresh"): "refreshToken",
    ("post", "/api/v1/auth/logout"): "logout",
    ("post", "/api/v1/auth/activate"): "activateAccount",
    ("post", "/api/v1/auth/password"): "changePassword",
    ("get", "/api/v1/clinics"): "listClinics",
    ("post", "/api/v1/clinics"): "createClinic",
    ("get", "/api/v1/clinics/{clinic_id}"): "getClinic",
    ("patch", "/api/v1/clinics/{clinic_id}"): "updateClinic",
    ("get", "/api/v1/clinics/{clinic_id}/outcomes"): "getClinicOutcomes",
    ("get", "/api/v1/clinics/{clinic_id}/on-call"): "getOnCall",
    ("put", "/api/v1/clinics/{clinic_id}/on-call"): "replaceOnCallSchedule",
    ("get", "/api/v1/clinicians"): "listClinicians",
    ("post", "/api/v1/clinicians"): "createClinician",
    ("patch", "/api/v1/clinicians/{clinician_id}"): "updateClinician",
    ("post", "/api/v1/clinicians/{clinician_id}/deactivate"): "deactivateClinician",
    ("get", "/api/v1/patients"): "listPatients",
    ("post", "/api/v1/patients"): "enrollPatient",
    ("get", "/api/v1/patients/{patient_id}"): "getPatient",
    ("patch", "/api/v1/patients/{patient_id}"): "updatePatient",
    ("post", "/api/v1/patients/{patient_id}/activation"): "resendActivation",
    ("get", "/api/v1/patients/{patient_id}/checkins"): "listPatientCheckins",
    ("get", "/api/v1/patients/{patient_id}/symptom-reports"): "listPatientSymptomReports",
    ("get", "/api/v1/patients/{patient_id}/sessions"): "listSessions",
    ("post", "/api/v1/patients/{patient_id}/sessions"): "recordSession",
    ("get", "/api/v1/sessions/{session_id}"): "getSession",
    ("post", "/api/v1/sessions/{session_id}/vitals"): "addVitals",
    ("post", "/api/v1/sessions/{session_id}/end"): "endSession",
    ("get", "/api/v1/escalations"): "listEscalations",
    ("get", "/api/v1/escalations/{escalation_id}"): "getEscalation",
    ("post", "/api/v1/escalations/{escalation_id}/acknowledge"): "acknowledgeEscalation",
    ("post", "/api/v1/escalations/{escalation_id}/resolve"): "resolveEscalation",
    ("post", "/api/v1/escalations/{escalation_id}/reassign"): "reassignEscalation",
    ("get", "/api/v1/me"): "getMe",
    ("get", "/api/v1/me/tasks"): "listMyTasks",
    ("get", "/api/v1/me/checkins"): "listMyCheckins",
    ("get", "/api/v1/me/symptom-reports"): "listMySymptomReports",
    ("post", "/api/v1/checkins/phq9"): "submitPhq9Checkin",
    ("post", "/api/v1/checkins/phq9-item9"): "submitItem9Answer",
    ("post", "/api/v1/symptom-reports"): "submitSymptomReport",
    ("get", "/api/v1/audit"): "listAuditEvents",
    ("post", "/webhooks/twilio/sms"): "receiveTwilioSms",
    ("post", "/webhooks/twilio/status"): "receiveTwilioSmsStatus",
    ("post", "/webhooks/twilio/voice"): "answerTwilioVoice",
    ("post", "/webhooks/twilio/voice/status"): "receiveTwilioVoiceStatus",
}

ROLES_KEY = "x-roles"
EXAMPLE_TIME = "2026-11-27T09:00:00+00:00"
# Example values by field name, where the name says more than the type.
NAMED_EXAMPLES: dict[str, Any] = {
    "timezone": "America/New_York",
    "phone": "+15555550123",
    "fallback_phone": "+15555550100",
    "email": "clinician@example.org",
    "username": "+15555550123",
    "password": "correct horse battery staple",
    "name": "Alex Example",
    "handoff": "08:00",
    "start": "21:00",
    "end": "08:00",
    "cursor": None,
    "next_cursor": None,
    "answers": [1, 2, 1, 0, 1, 2, 1, 0, 2],
    "asrm": [0, 1, 0, 0, 1],
    "note": "Called the patient; safety plan reviewed.",
}
_WORDS = re.compile(r"(?<!^)(?=[A-Z])")


def _describe_schema(name: str, schema: Any) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    doc = cls.__dict__.get("__doc__")
    if doc:
        return " ".join(doc.split())
    words = _WORDS.sub(" ", name).lower()
    if name.endswith("In") or name.endswith("Patch"):
        return f"Request body: {words}."
    return f"{words[:1].upper()}{words[1:]}."


def _choices(field: fields.Field[Any]) -> list[Any] | None:
    enum = field.metadata.get("enum")
    if enum:
        return list(enum)
    validators = field.validators if isinstance(field.validators, list) else []
    for v in validators:
        if isinstance(v, validate.OneOf):
            return list(v.choices)
    return None


def _minimum(field: fields.Field[Any]) -> Any:
    validators = field.validators if isinstance(field.validators, list) else []
    for v in validators:
        if isinstance(v, validate.Range) and v.min is not None:
            return v.min
    return None


def field_example(name: str, field: fields.Field[Any], depth: int = 0) -> Any:
    """An example value for one field."""
    if "example" in field.metadata:
        return field.metadata["example"]
    if field.allow_none and field.load_default is None and not field.required:
        return None  # optional: the example leaves it out (null), as most callers will
    choices = _choices(field)
    if choices:
        return next((c for c in choices if c is not None), None)
    if isinstance(field, fields.DateTime | tandem_fields.AwareDateTime):
        return EXAMPLE_TIME
    if isinstance(field, fields.Date):
        return EXAMPLE_TIME[:10]
    if name in NAMED_EXAMPLES:
        return NAMED_EXAMPLES[name]
    if isinstance(field, fields.Nested):
        nested = field.schema
        value = schema_example(nested, depth + 1) if depth < 6 else {}
        return [value] if field.many else value
    if isinstance(field, fields.List):
        return [field_example(name, field.inner, depth + 1)]
    if isinstance(field, fields.Dict):
        return {}
    if isinstance(field, fields.Boolean):
        return False
    if isinstance(field, fields.Integer):
        low = _minimum(field)
        return low if low is not None else 1
    if isinstance(field, fields.Float):
        low = _minimum(field)
        return 0.5 if low is None or low <= 0.5 else low
    if isinstance(field, fields.Url):
        return "https://events.pagerduty.com/v2/enqueue"
    if isinstance(field, fields.Method | fields.Function):
        kind = str(field.metadata.get("type", ""))
        return {"boolean": False, "array": [], "object": {}, "string": "text"}.get(kind)
    return "text"


def schema_example(schema: Schema | type[Schema], depth: int = 0) -> dict[str, Any]:
    """An example of `schema`: one value per field, as a client would send or receive it."""
    instance = schema() if isinstance(schema, type) else schema
    return {
        field.data_key or name: field_example(name, field, depth)
        for name, field in instance.fields.items()
    }


def _schema_first(
    converter: Any, field: fields.Field[Any], ret: dict[str, Any], **_: Any
) -> dict[str, Any]:
    """A nullable nested schema as anyOf [its schema, null]: generators try the branches in
    order, and with the bare nullable object first they never build the typed model."""
    branches = ret.get("anyOf")
    if isinstance(branches, list) and branches and branches[0] == NULL_OBJECT:
        return {"anyOf": [*branches[1:], branches[0]]}
    return {}


NULL_OBJECT = {"type": "object", "nullable": True}


class OpenApiDocPlugin(BasePlugin):
    """operationId, description and examples for every operation and schema, in one place."""

    def init_spec(self, spec: APISpec) -> None:
        super().init_spec(spec)
        for plugin in spec.plugins:
            if isinstance(plugin, MarshmallowPlugin) and plugin.converter is not None:
                plugin.converter.add_attribute_function(_schema_first)  # type: ignore[no-untyped-call]

    def schema_helper(
        self, name: str, definition: dict[str, Any], **kwargs: Any
    ) -> dict[str, Any] | None:
        schema = kwargs.get("schema")
        if schema is None:
            return None
        return {"description": _describe_schema(name, schema), "example": schema_example(schema)}

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **_: Any
    ) -> None:
        for method, operation in (operations or {}).items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            operation_id = OPERATION_IDS.get((method, path or ""))
            if operation_id:
                operation.setdefault("operationId", operation_id)
            roles = operation.pop(ROLES_KEY, None)
            # The summary is the docstring's first line; the description adds who may call.
            access = (
                f"Who may call it: {', '.join(roles)}."
                if roles
                else "No bearer token needed."
                if "security" not in operation
                else "Any signed-in user."
            )
            operation["description"] = f"{operation.get('description', '')}\n\n{access}".strip()
