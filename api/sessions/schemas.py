"""Treatment session bodies."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.fields import AwareDateTime, FlagKinds, HoldingSchema, StrictInteger, StrictNumber, enum
from clinical.rules import KINDS, PRIORITIES
from services.sessions import COMPLETED, IN_PROGRESS
from store.schedule import TreatmentSession, VitalsReading

SESSION_STATUSES = (COMPLETED, IN_PROGRESS)
MINUTES = validate.Range(1, 240, error="Must be a whole number of minutes from 1 to 240.")
PRESSURE = validate.Range(40, 300, error="Must be a pressure in mmHg from 40 to 300.")


class VitalsIn(Schema):
    """One vital-signs reading."""

    at = AwareDateTime(required=True)
    systolic = StrictInteger(required=True, validate=PRESSURE)
    diastolic = StrictInteger(required=True, validate=PRESSURE)
    heart_rate = StrictInteger(
        load_default=None,
        allow_none=True,
        validate=validate.Range(20, 250, error="Must be beats per minute from 20 to 250."),
    )
    spo2 = StrictInteger(
        load_default=None,
        allow_none=True,
        validate=validate.Range(50, 100, error="Must be an oxygen saturation from 50 to 100 %."),
        metadata={"description": "Oxygen saturation in percent; below 92 pages (respiratory)."},
    )

    @validates_schema
    def _pressure_order(self, data: dict[str, Any], **_: Any) -> None:
        systolic, diastolic = data.get("systolic"), data.get("diastolic")
        if systolic is not None and diastolic is not None and systolic <= diastolic:
            raise ValidationError({"systolic": ["Must be higher than the diastolic pressure."]})


class SessionIn(Schema):
    """Record a treatment session: back-filled with its vitals, or opened live."""

    status = fields.String(
        load_default="completed",
        validate=validate.OneOf(SESSION_STATUSES),
        metadata={
            "description": "completed (default): a back-filled session with all its vitals. "
            "in_progress: a live session, opened with no reading or the pre-dose reading; add "
            "readings at POST /api/v1/sessions/{id}/vitals and close it at .../end."
        },
    )
    started_at = AwareDateTime(required=True)
    ketamine_mg_per_kg = StrictNumber(
        required=True,
        validate=validate.Range(
            min=0, max=2, min_inclusive=False, error="Must be a dose above 0 and at most 2 mg/kg."
        ),
    )
    ketamine_infusion_minutes = StrictInteger(required=True, validate=MINUTES)
    tms_minutes = StrictInteger(required=True, validate=MINUTES)
    vitals = fields.List(
        fields.Nested(VitalsIn),
        load_default=None,
        validate=validate.Length(max=100),
        metadata={"description": "Required when back-filled; at most the pre-dose one when live."},
    )
    notes = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class VitalsOut(Schema):
    """One vital-signs reading."""

    at = AwareDateTime(required=True)
    systolic = fields.Integer(required=True)
    diastolic = fields.Integer(required=True)
    heart_rate = fields.Integer(required=True, allow_none=True)
    spo2 = fields.Integer(required=True, allow_none=True)


class EscalationRefOut(Schema):
    """The escalation a session's readings raised or joined."""

    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata=enum(KINDS))
    priority = fields.String(required=True, metadata=enum(PRIORITIES))


def _deviation_kinds(record: TreatmentSession) -> list[str]:
    return [str(d["kind"]) for d in record.deviations or []]


class SessionOut(HoldingSchema):
    """A treatment session with its readings and protocol deviations."""

    HELD_TYPE = TreatmentSession

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
    status = fields.String(
        required=True, metadata=enum(SESSION_STATUSES, "in_progress | completed")
    )
    ended_at = AwareDateTime(required=True, allow_none=True)
    deviations = fields.Method(
        "_deviations",
        required=True,
        metadata={
            "type": "array",
            "items": {"type": "string"},
            "description": "Protocol deviations recorded (never blocked): vitals_gap (readings "
            "more than 15 min apart during the infusion), dose_off_protocol (not 0.5 mg/kg "
            "+- 10 %), infusion_duration (under 20 or over 60 min). Judged when the session ends "
            "(at once when back-filled).",
        },
    )
    deviation_details = fields.Method(
        "_deviation_details", required=True, metadata={"type": "array", "items": {"type": "object"}}
    )
    warnings = fields.Method(
        "_warnings",
        required=True,
        metadata={
            "type": "array",
            "items": {"type": "object"},
            "description": "e.g. pre_dose_blood_pressure: at or above 140/90 before dosing.",
        },
    )

    def _deviations(self, obj: Any) -> list[str]:
        return _deviation_kinds(self.held(obj))

    def _deviation_details(self, obj: Any) -> list[Any]:
        return list(self.held(obj).deviations or [])

    def _warnings(self, obj: Any) -> list[Any]:
        return list(self.held(obj).warnings or [])


class SessionCreated(SessionOut):
    """A recorded session, and the escalation its readings raised, if any."""

    escalation = fields.Nested(
        EscalationRefOut,
        required=True,
        allow_none=True,
        metadata={"description": "The hypertension escalation a reading raised or joined."},
    )


class SessionPage(Schema):
    """A page of a patient's sessions."""

    items = fields.List(fields.Nested(SessionOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class ReadingCreated(HoldingSchema, VitalsOut):
    """A live reading as judged on arrival."""

    HELD_TYPE = VitalsReading

    id = fields.Integer(required=True)
    session_id = fields.Integer(required=True)
    flags = FlagKinds(
        required=True,
        metadata={
            "description": "Kinds raised by this reading: hypertension, vital_signs, respiratory."
        },
    )
    escalation = fields.Nested(EscalationRefOut, required=True, allow_none=True)


class SessionEndIn(Schema):
    """Close a live session."""

    ended_at = AwareDateTime(load_default=None, allow_none=True)
    ketamine_infusion_minutes = StrictInteger(
        load_default=None,
        allow_none=True,
        validate=MINUTES,
        metadata={"description": "The infusion time actually given, when it differs."},
    )
