"""Patient enrolment and management bodies."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from api.checkins.schemas import StandingOut
from api.fields import (
    AwareDateTime,
    Id,
    NestedFrom,
    Phone,
    StrictBoolean,
    StrictInteger,
    StrictNumber,
    TimeZone,
    enum,
)
from clinical.calendar import DEFAULT_MAINTENANCE_INTERVAL_DAYS
from clinical.eligibility import MADRS, PHQ9, PRIOR_MODALITIES
from services.patients import PHASES
from services.selfreport import Standing

INSTRUMENTS = (PHQ9, MADRS)
INTERVAL = validate.Range(2, 28, error="Must be a whole number of days from 2 to 28.")
ACUTE_TARGET = validate.Range(6, 30, error="Must be a whole number of sessions from 6 to 30.")
ACUTE_TARGET_DOC = {
    "description": "Sessions in the acute course (6-30, default 6); the completion PHQ-9 "
    "follows the last acute session given.",
    "default": 6,
}


class BaselineIn(Schema):
    """The screening baseline score and its instrument."""

    instrument = fields.String(required=True, validate=validate.OneOf(INSTRUMENTS))
    score = StrictInteger(required=True, validate=validate.Range(0, 60))


class ScreeningIn(Schema):
    """The eligibility screening answers."""

    failed_antidepressant_trials = StrictInteger(required=True, validate=validate.Range(0, 100))
    prior_inadequate_response = fields.List(
        fields.String(validate=validate.OneOf(PRIOR_MODALITIES)),
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
    """Enrol a patient: profile, care team, screening and plan."""

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
    """Change a patient's plan or profile: only the fields given change."""

    name = fields.String(validate=validate.Length(1, 200))
    timezone = TimeZone()
    bipolar = StrictBoolean()
    weight_kg = StrictNumber(validate=validate.Range(min=20, max=400))
    care_team = fields.List(Id(), validate=validate.Length(max=20))
    maintenance_interval_days = StrictInteger(validate=INTERVAL)
    acute_target_sessions = StrictInteger(validate=ACUTE_TARGET, metadata=ACUTE_TARGET_DOC)
    phase = fields.String(validate=validate.OneOf(PHASES))


class CareTeamMember(Schema):
    """A clinician on the patient's care team."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)


class BaselineOut(Schema):
    """The screening baseline the patient was enrolled on."""

    instrument = fields.String(
        required=True, attribute="baseline_instrument", metadata=enum(INSTRUMENTS)
    )
    score = fields.Integer(required=True, attribute="baseline_score")


class Present(fields.Boolean):
    """True when the attribute holds a value (e.g. a password hash: the account is activated)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> bool:
        return value is not None


def _profile(obj: Any) -> Any:
    return obj.profile if isinstance(obj, Standing) else obj


def _baseline(obj: Any) -> Any:
    profile = _profile(obj)
    return profile if profile.baseline_instrument else None


class PatientOut(Schema):
    """A patient of your clinic."""

    id = fields.Integer(required=True, attribute="user_id")
    status = fields.String(required=True)
    name = fields.String(required=True, attribute="user.name")
    phone = fields.String(required=True, attribute="user.phone")
    timezone = fields.String(required=True)
    bipolar = fields.Boolean(required=True)
    weight_kg = fields.Float(required=True)
    phase = fields.String(required=True, metadata=enum(PHASES))
    maintenance_interval_days = fields.Integer(required=True)
    acute_target_sessions = fields.Integer(required=True, metadata=ACUTE_TARGET_DOC)
    care_team = fields.List(fields.Nested(CareTeamMember), required=True)
    sms_opted_out = fields.Boolean(required=True, attribute="user.sms_opted_out")
    enrolled_at = AwareDateTime(required=True)
    activated = Present(required=True, attribute="user.password_hash")
    baseline = NestedFrom(BaselineOut, source=_baseline, allow_none=True)
    clinic_id = fields.Integer(required=True)


class PatientDetailOut(PatientOut, StandingOut):
    """One patient with their self-report standing."""

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        # The profile's fields come from the standing's profile; the standing's from itself.
        source = obj if attr in StandingOut._declared_fields else _profile(obj)
        return super().get_attribute(source, attr, default)


class PatientPage(Schema):
    """A page of your clinic's patients."""

    items = fields.List(fields.Nested(PatientOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
