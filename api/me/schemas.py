"""The signed-in patient's own view."""

from __future__ import annotations

from marshmallow import Schema, fields

from api.checkins.schemas import LatestScores, NextSessionOut, OutcomeSummaryOut
from api.fields import AwareDateTime
from api.patients.schemas import CareTeamMember


class MeOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    phone = fields.String(required=True)
    timezone = fields.String(required=True)
    clinic_id = fields.Integer(required=True)
    phase = fields.String(required=True)
    maintenance_interval_days = fields.Integer(required=True)
    acute_target_sessions = fields.Integer(required=True)
    enrolled_at = AwareDateTime(required=True)
    care_team = fields.List(fields.Nested(CareTeamMember), required=True)
    sessions_given = fields.Integer(required=True)
    last_session_at = AwareDateTime(required=True, allow_none=True)
    next_session = fields.Nested(
        NextSessionOut,
        required=True,
        allow_none=True,
        metadata={"description": "When the next maintenance session falls due, when known."},
    )
    latest_scores = fields.Nested(LatestScores, required=True)
    outcome = fields.Nested(OutcomeSummaryOut, required=True)
