"""Treatment session bodies."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.fields import AwareDateTime, StrictInteger, StrictNumber

MINUTES = validate.Range(1, 240, error="Must be a whole number of minutes from 1 to 240.")
PRESSURE = validate.Range(40, 300, error="Must be a pressure in mmHg from 40 to 300.")


class VitalsIn(Schema):
    at = AwareDateTime(required=True)
    systolic = StrictInteger(required=True, validate=PRESSURE)
    diastolic = StrictInteger(required=True, validate=PRESSURE)
    heart_rate = StrictInteger(
        load_default=None,
        allow_none=True,
        validate=validate.Range(20, 250, error="Must be beats per minute from 20 to 250."),
    )

    @validates_schema
    def _pressure_order(self, data: dict[str, Any], **_: Any) -> None:
        systolic, diastolic = data.get("systolic"), data.get("diastolic")
        if systolic is not None and diastolic is not None and systolic <= diastolic:
            raise ValidationError({"systolic": ["Must be higher than the diastolic pressure."]})


class SessionIn(Schema):
    started_at = AwareDateTime(required=True)
    ketamine_mg_per_kg = StrictNumber(
        required=True,
        validate=validate.Range(
            min=0, max=2, min_inclusive=False, error="Must be a dose above 0 and at most 2 mg/kg."
        ),
    )
    ketamine_infusion_minutes = StrictInteger(required=True, validate=MINUTES)
    tms_minutes = StrictInteger(required=True, validate=MINUTES)
    vitals = fields.List(fields.Nested(VitalsIn), required=True, validate=validate.Length(max=100))
    notes = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class VitalsOut(Schema):
    at = AwareDateTime(required=True)
    systolic = fields.Integer(required=True)
    diastolic = fields.Integer(required=True)
    heart_rate = fields.Integer(required=True, allow_none=True)


class EscalationRefOut(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    priority = fields.String(required=True)


class SessionOut(Schema):
    id = fields.Integer(required=True)
    patient_id = fields.Integer(required=True)
    started_at = AwareDateTime(required=True)
    ketamine_mg_per_kg = fields.Float(required=True, allow_none=True)
    ketamine_infusion_minutes = fields.Integer(required=True, allow_none=True)
    tms_minutes = fields.Integer(required=True, allow_none=True)
    vitals = fields.List(fields.Nested(VitalsOut), required=True)
    notes = fields.String(required=True, allow_none=True)
    recorded_by = fields.Integer(required=True)
    recorded_at = AwareDateTime(required=True)


class SessionCreated(SessionOut):
    escalation = fields.Nested(
        EscalationRefOut,
        required=True,
        allow_none=True,
        metadata={"description": "The hypertension escalation a reading raised or joined."},
    )


class SessionPage(Schema):
    items = fields.List(fields.Nested(SessionOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
