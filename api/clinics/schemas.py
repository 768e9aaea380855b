"""Clinic and clinician bodies."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.fields import ID_MAX, Id, Phone, StrictInteger, TimeZone

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class AckTimeouts(Schema):
    urgent = StrictInteger(validate=validate.Range(60, 86_400))
    high = StrictInteger(validate=validate.Range(60, 86_400))


class QuietHours(Schema):
    start = fields.String(validate=validate.Regexp(HHMM, error="Must be HH:MM (24-hour)."))
    end = fields.String(validate=validate.Regexp(HHMM, error="Must be HH:MM (24-hour)."))


class EscalationPolicy(Schema):
    ack_timeout_seconds = fields.Nested(AckTimeouts)
    repeat = StrictInteger(
        validate=validate.Range(0, 10),
        metadata={"description": "How many times the chain repeats."},
    )
    quiet_hours = fields.Nested(QuietHours)
    fallback_phone = Phone(
        allow_none=True,
        metadata={
            "description": "Texted (e.g. the clinic's duty phone) when a chain runs out or "
            "nobody on it can be reached."
        },
    )


class ClinicIn(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    timezone = TimeZone(required=True)
    escalation_policy = fields.Nested(EscalationPolicy)


class ClinicPatch(Schema):
    name = fields.String(validate=validate.Length(1, 200))
    timezone = TimeZone()
    escalation_policy = fields.Nested(EscalationPolicy)


class ClinicOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    timezone = fields.String(required=True)
    escalation_policy = fields.Dict(required=True)
    created_at = fields.AwareDateTime(format="iso", required=True)


class ClinicianIn(Schema):
    clinic_id = Id(required=True)
    name = fields.String(required=True, validate=validate.Length(1, 200))
    email = fields.Email(required=True, validate=validate.Length(3, 254))
    phone = Phone(required=True)
    password = fields.String(required=True, load_only=True, validate=validate.Length(1, 256))
    on_call_tier = StrictInteger(required=True, validate=validate.OneOf([1, 2, 3]))

    @validates_schema
    def _password(self, data: dict[str, Any], **_: Any) -> None:
        from services.passwords import password_problems

        problems = password_problems(data.get("password", "")) if "password" in data else []
        if problems:
            raise ValidationError(problems, "password")


class ClinicianOut(Schema):
    id = fields.Integer(required=True)
    clinic_id = fields.Integer(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    phone = fields.String(allow_none=True)
    on_call_tier = fields.Integer(allow_none=True)
    sms_opted_out = fields.Boolean(required=True)
    is_active = fields.Boolean(metadata={"description": "False once an admin deactivated them."})
    created_at = fields.AwareDateTime(format="iso", required=True)


class ClinicianQuery(Schema):
    clinic_id = fields.Integer(validate=validate.Range(1, ID_MAX))
