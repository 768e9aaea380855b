"""What the app should ask the patient now."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_dump, validate

from api.fields import ShownDateTime
from services.schedule import ANSWERABLE


class TaskOut(Schema):
    """An open task, its times in the patient's zone."""

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
    due_at = ShownDateTime(required=True)
    expires_at = ShownDateTime(required=True)
    session_id = fields.Integer(metadata={"description": "The session the task follows."})
    reason = fields.String(required=True)

    @post_dump
    def _no_session(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        # A task that follows no session leaves session_id out (the contract's "session_id"?).
        if data.get("session_id") is None:
            data.pop("session_id", None)
        return data
