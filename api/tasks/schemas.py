"""What the app should ask the patient now."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.fields import AwareDateTime
from services.schedule import ANSWERABLE


class TaskOut(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(ANSWERABLE))
    due_at = AwareDateTime(required=True)
    expires_at = AwareDateTime(required=True)
    session_id = fields.Integer(metadata={"description": "The session the task follows."})
    reason = fields.String(required=True)
