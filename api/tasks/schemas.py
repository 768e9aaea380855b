"""What the app should ask the patient now."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.fields import AwareDateTime
from services.schedule import ANSWERABLE


class TaskOut(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(
        required=True,
        validate=validate.OneOf(ANSWERABLE),
        metadata={
            "description": "`phq9`: POST /api/v1/checkins/phq9. `symptom_report`: POST "
            "/api/v1/symptom-reports. `asrm` (bipolar patients, beside a PHQ-9): POST "
            "/api/v1/checkins/phq9 with the five `asrm` answers and this task's id (or its "
            "PHQ-9's); one submission closes both tasks. A post-session report answers it too."
        },
    )
    due_at = AwareDateTime(required=True)
    expires_at = AwareDateTime(required=True)
    session_id = fields.Integer(metadata={"description": "The session the task follows."})
    reason = fields.String(required=True)
