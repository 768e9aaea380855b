"""Patient enrolment and management bodies."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.checkins.schemas import LatestScores, NextSessionOut, OutcomeSummaryOut
from api.fields import (
    AwareDateTime,
    Id,
    Phone,
    StrictBoolean,
    StrictInteger,
    StrictNumber,
    TimeZone,
)
from clinical.calendar import DEFAULT_MAINTENANCE_INTERVAL_DAYS
from services.patients import PHASES

INTERVAL = validate.Range(2, 28, error="Must be a whole number of days from 2 to 28.")
ACUTE_TARGET = validate.Range(6, 30, error="Must be a whole number of sessions from 6 to 30.")
ACUTE_TARGET_DOC = {
    "description": "Sessions in the acute course (6-30, default 6); the completion PHQ-9 "
    "follows the last acute session given.",
    "default": 6,
}


class BaselineIn(Schema):
    instrument = fields.String(required=True, validate=validate.OneOf(["PHQ-9", "MADRS"]))
    score = StrictInteger(required=True, validate=validate.Range(0, 60))


class ScreeningIn(Schema):
    failed_antidepressant_trials = StrictInteger(required=True, validate=validate.Range(0, 100))
    prior_inadequate_response = fields.List(
        fields.String(validate=validate.OneOf(["tms", "ketamine"])),
        required=True,
        validate=validate.Length(max=2),
    )
    baseline = fields.Nested(BaselineIn, required=True, allow_none=True)
    medical_clearance = StrictBoolean(required=True)
    cardiovascular_assessment = StrictBoolean(required=True)
    uncontrolled_hypertension = StrictBoolean(required=True)
    active_substance_use_disorder = StrictBoolean(required=True)
    uncontrolled_seizure_disorder = StrictBoolean(required=True)
    active_suicidal_ideation_requiring_intervention = StrictBoolean(required=True)


class PatientIn(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    phone = Phone(required=True)
    timezone = TimeZone(required=True)
    bipolar = StrictBoolean(required=True)
    weight_kg = StrictNumber(
        required=True,
        validate=validate.Range(
            min=20, max=400, error="Must be a weight in kilograms from 20 to 400."
        ),
    )
    care_team = fields.List(Id(), load_default=list, validate=validate.Length(max=20))
    screening = fields.Nested(ScreeningIn, required=True)
    maintenance_interval_days = StrictInteger(
        load_default=DEFAULT_MAINTENANCE_INTERVAL_DAYS, validate=INTERVAL
    )
    acute_target_sessions = StrictInteger(
        load_default=6, validate=ACUTE_TARGET, metadata=ACUTE_TARGET_DOC
    )
    clinic_id = Id(metadata={"description": "Optional; must be your own clinic."})


class PatientPatch(Schema):
    name = fields.String(validate=validate.Length(1, 200))
    timezone = TimeZone()
    bipolar = StrictBoolean()
    weight_kg = StrictNumber(validate=validate.Range(min=20, max=400))
    care_team = fields.List(Id(), validate=validate.Length(max=20))
    maintenance_interval_days = StrictInteger(validate=INTERVAL)
    acute_target_sessions = StrictInteger(validate=ACUTE_TARGET, metadata=ACUTE_TARGET_DOC)
    phase = fields.String(validate=validate.OneOf(PHASES))


class CareTeamMember(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class PatientOut(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)
    name = fields.String(required=True)
    phone = fields.String(required=True)
    timezone = fields.String(required=True)
    bipolar = fields.Boolean(required=True)
    weight_kg = fields.Float(required=True)
    phase = fields.String(required=True)
    maintenance_interval_days = fields.Integer(required=True)
    acute_target_sessions = fields.Integer(required=True, metadata=ACUTE_TARGET_DOC)
    care_team = fields.List(fields.Nested(CareTeamMember), required=True)
    sms_opted_out = fields.Boolean(required=True)
    enrolled_at = AwareDateTime(required=True)
    activated = fields.Boolean(required=True)
    baseline = fields.Dict(allow_none=True)
    clinic_id = fields.Integer(required=True)
    # GET /patients/{id} only: the self-report standing.
    sessions_given = fields.Integer()
    last_session_at = AwareDateTime(allow_none=True)
    next_session = fields.Nested(NextSessionOut, allow_none=True)
    latest_scores = fields.Nested(LatestScores)
    outcome = fields.Nested(OutcomeSummaryOut)


class PatientPage(Schema):
    items = fields.List(fields.Nested(PatientOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
