"""The signed-in patient's own view."""

from __future__ import annotations

from marshmallow import fields

from api.checkins.schemas import StandingOut
from api.fields import ShownDateTime, enum
from api.patients.schemas import CareTeamMember
from services.patients import PHASES


class MeOut(StandingOut):
    """The signed-in patient , times in their own zone."""

    id = fields.Integer(required=True, attribute="profile.user_id")
    name = fields.String(required=True, attribute="profile.user.name")
    phone = fields.String(required=True, attribute="profile.user.phone")
    timezone = fields.String(required=True, attribute="profile.timezone")
    clinic_id = fields.Integer(required=True, attribute="profile.clinic_id")
    phase = fields.String(required=True, attribute="profile.phase", metadata=enum(PHASES))
    maintenance_interval_days = fields.Integer(
        required=True, attribute="profile.maintenance_interval_days"
    )
    acute_target_sessions = fields.Integer(required=True, attribute="profile.acute_target_sessions")
    enrolled_at = ShownDateTime(required=True, attribute="profile.enrolled_at")
    care_team = fields.List(
        fields.Nested(CareTeamMember), required=True, attribute="profile.care_team"
    )
