"""Clinic and clinician bodies."""

from __future__ import annotations

import re
from dataclasses import fields as dataclass_fields
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.fields import ID_MAX, Id, NestedFrom, Phone, StrictInteger, TimeZone
from clinical.rules import EscalationRules
from services.clinics import effective_policy
from services.escalations import clinic_rules

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class AckTimeouts(Schema):
    """Seconds an urgent or high escalation waits for an acknowledgement before the next tier."""

    # Safety floors (rules-2): a clinic may page the next tier sooner, never later than
    # 15 minutes for urgent and 60 for high.
    urgent = StrictInteger(
        validate=validate.Range(60, 900, error="Must be from 60 to 900 seconds (floor: 15 min)."),
        metadata={"default": 600},
    )
    high = StrictInteger(
        validate=validate.Range(60, 3600, error="Must be from 60 to 3600 seconds (floor: 60 min)."),
        metadata={"default": 1800},
    )


class QuietHours(Schema):
    """Hours (clinic time) when routine texts wait; urgent pages still go."""

    start = fields.String(validate=validate.Regexp(HHMM, error="Must be HH:MM (24-hour)."))
    end = fields.String(validate=validate.Regexp(HHMM, error="Must be HH:MM (24-hour)."))


class EscalationPolicy(Schema):
    """How a clinic's escalations are paged: time-outs, repeats, quiet hours, fallbacks."""

    ack_timeout_seconds = fields.Nested(AckTimeouts)
    repeat = StrictInteger(
        validate=validate.Range(1, 10, error="Must be from 1 to 10 (floor: at least 1)."),
        metadata={"description": "How many times the chain repeats (at least 1).", "default": 3},
    )
    quiet_hours = fields.Nested(QuietHours)
    fallback_phone = Phone(
        allow_none=True,
        metadata={
            "description": "Texted (e.g. the clinic's duty phone) when a chain runs out or "
            "nobody on it can be reached."
        },
    )
    # Issue 13: hand escalations to the clinic's own pager (PagerDuty Events API v2).
    events_url = fields.Url(
        allow_none=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=validate.Length(max=500),
        metadata={"description": "e.g. https://events.pagerduty.com/v2/enqueue"},
    )
    events_routing_key = fields.String(
        allow_none=True,
        validate=validate.Length(1, 64),
        metadata={"description": "The integration's routing key (shown masked)."},
    )


def _rules_schema() -> type[Schema]:
    """The clinic's escalation_rules, one field per setting, with its default and floor."""
    attrs: dict[str, Any] = {}
    for f in dataclass_fields(EscalationRules):
        low, high = f.metadata["bounds"]
        attrs[f.name] = StrictInteger(
            validate=validate.Range(
                low,
                high,
                error=(
                    f"Must be an integer from {low} to {high} (default {f.default}); "
                    "safety floors allow stricter settings only."
                ),
            ),
            metadata={"default": f.default, "minimum": low, "maximum": high},
        )
    return Schema.from_dict(attrs, name="EscalationRules")


EscalationRulesIn = _rules_schema()
EscalationRulesIn.__doc__ = (
    "A clinic's escalation rule thresholds, each with its default and floor."
)
RULES_DOC = {
    "description": "Per-clinic rule thresholds (rules-2); each defaults as shown. Settings "
    "past a safety floor (e.g. item9_urgent above 2, systolic_limit above 180) are refused "
    "with a 422 naming the field. PATCH merges over the stored settings."
}


class ClinicIn(Schema):
    """Create a clinic."""

    name = fields.String(required=True, validate=validate.Length(1, 200))
    timezone = TimeZone(required=True)
    escalation_policy = fields.Nested(EscalationPolicy)
    escalation_rules = fields.Nested(EscalationRulesIn, metadata=RULES_DOC)


class ClinicPatch(Schema):
    """Change a clinic: only the fields given change."""

    name = fields.String(validate=validate.Length(1, 200))
    timezone = TimeZone()
    escalation_policy = fields.Nested(EscalationPolicy)
    escalation_rules = fields.Nested(EscalationRulesIn, metadata=RULES_DOC)


class ClinicOut(Schema):
    """A clinic, with its effective escalation policy and rule thresholds."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    timezone = fields.String(required=True)
    escalation_policy = fields.Function(
        lambda clinic: effective_policy(clinic.escalation_policy),
        required=True,
        metadata={
            "type": "object",
            "description": "The clinic's escalation policy with the defaults filled in.",
        },
    )
    escalation_rules = NestedFrom(
        EscalationRulesIn,
        source=lambda clinic: clinic_rules(clinic).as_dict(),
        required=True,
        metadata={"description": "The clinic's effective rule thresholds (defaults filled in)."},
    )
    created_at = fields.AwareDateTime(format="iso", required=True)


class ClinicianIn(Schema):
    """Create a clinician in a clinic."""

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
    """A clinician of a clinic."""

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
