"""PHQ-9 item 9 answered alone: the one-question re-ask after a check-in skipped it."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.checkins.schemas import RaisedEscalationOut
from api.extensions import db, runtime
from api.fields import (
    AwareDateTime,
    CrisisResources,
    FlagKinds,
    Id,
    ShownDateTime,
    StrictInteger,
    show_times_in,
)
from api.idempotency import idempotent
from api.security import require, the_user
from services import item9
from store.models import Role

blp = Blueprint(
    "item9",
    __name__,
    url_prefix="/api/v1/checkins",
    description="PHQ-9 item 9 asked again alone after a check-in skipped it.",
)


class Item9In(Schema):
    """PHQ-9 item 9 answered alone, for a phq9_item9 task."""

    task_id = Id(
        required=True,
        metadata={"description": "The open phq9_item9 task (GET /api/v1/me/tasks)."},
    )
    item9 = StrictInteger(
        required=True,
        validate=validate.Range(0, 3, error="Must be an answer from 0 to 3."),
        metadata={"description": "Thoughts of being better off dead or of self-harm, 0-3."},
    )
    answered_at = AwareDateTime(load_default=None, allow_none=True)


class Item9Out(Schema):
    """A judged item 9 answer , its time in the patient's zone."""

    id = fields.Integer(required=True, attribute="record.id")
    task_id = fields.Integer(required=True, attribute="record.task_id")
    checkin_id = fields.Integer(required=True, attribute="record.checkin_id")
    item9 = fields.Integer(required=True, attribute="record.item9")
    flags = FlagKinds(required=True)
    escalation = fields.Nested(RaisedEscalationOut, required=True, allow_none=True)
    crisis_resources = fields.Nested(CrisisResources, required=True, allow_none=True)
    answered_at = ShownDateTime(required=True, attribute="record.answered_at")


@blp.route("/phq9-item9")
class Item9Answers(MethodView):
    @idempotent
    @require(Role.PATIENT)
    @blp.arguments(Item9In)
    @blp.response(201, Item9Out)
    @blp.alt_response(404, description="The task is not yours.")
    @blp.alt_response(409, description="This question was already answered.")
    def post(self, data: dict[str, Any]) -> item9.Item9Result:
        """Answer item 9 alone for a phq9_item9 task: judged as the skipped item 9 would have
        been (>= 1 high, >= 2 urgent; crisis resources from 1). The check-in that skipped it
        keeps its answers and total."""
        result = item9.submit_item9(db(), patient=the_user(), now=runtime().clock.now(), **data)
        show_times_in(ZoneInfo(result.timezone))
        return result
