"""Escalation inbox bodies and replies."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from api.fields import ID_MAX, HoldingSchema, Id, PageQuery, enum
from clinical.rules import KINDS, PRIORITIES
from notifications.pager import CHANNEL as PAGER
from services.oncall import CHANNELS
from store.escalations import STATUSES, Escalation


class EscalationQuery(PageQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    priority = fields.String(load_default=None, validate=validate.OneOf(PRIORITIES))
    kind = fields.String(load_default=None, validate=validate.OneOf(KINDS))
    patient_id = fields.Integer(load_default=None, strict=False, validate=validate.Range(1, ID_MAX))


class ResolveIn(Schema):
    """Resolve an escalation: what was done."""

    note = fields.String(
        required=True,
        validate=validate.Length(1, 2000),
        metadata={"description": "What was done (1-2000 characters)."},
    )


class ReassignIn(Schema):
    """Hand an escalation to another clinician of your clinic."""

    clinician_id = Id(required=True)


class EscalationOut(HoldingSchema):
    """An escalation raised for a patient, and where its paging stands."""

    HELD = "escalation"
    HELD_TYPE = Escalation

    id = fields.Integer(required=True)
    patient_id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata=enum(KINDS))
    priority = fields.String(required=True, metadata=enum(PRIORITIES))
    status = fields.String(required=True, metadata=enum(STATUSES))
    tier = fields.Integer(
        required=True,
        metadata={
            "description": "Tier last paged (0: none yet, or the step that re-pages the "
            "previous acknowledger when new urgent evidence arrives)."
        },
    )
    cycle = fields.Integer(required=True)
    paging_exhausted = fields.Boolean(required=True)
    unacknowledged = fields.Method(
        "_unacknowledged",
        required=True,
        metadata={"type": "boolean", "description": "Still open: nobody acknowledged it yet."},
    )
    next_page_at = fields.AwareDateTime(format="iso", allow_none=True)
    assigned_to = fields.Integer(allow_none=True)
    created_at = fields.AwareDateTime(format="iso", required=True)
    updated_at = fields.AwareDateTime(format="iso", required=True)
    acknowledged_at = fields.AwareDateTime(format="iso", allow_none=True)
    acknowledged_by = fields.Integer(allow_none=True)
    resolved_at = fields.AwareDateTime(format="iso", allow_none=True)
    resolved_by = fields.Integer(allow_none=True)
    resolution_note = fields.String(allow_none=True)
    unpageable = fields.Boolean(
        required=True,
        metadata={
            "description": "Open and paged, but nobody on its chain can be texted right now "
            "(every clinician opted out of SMS or has no phone). Listed first; the clinic's "
            "fallback phone is texted and /readyz fails until someone can be paged again."
        },
    )

    def _unacknowledged(self, obj: Any) -> bool:
        return bool(self.held(obj).status == "open")


class OnCallNow(Schema):
    """Who is on call for one tier, and until when."""

    clinician_id = fields.Integer(required=True)
    until = fields.AwareDateTime(format="iso", required=True)


class InboxOnCall(Schema):
    """Who the clinic's schedule has on call now, per tier."""

    at = fields.AwareDateTime(format="iso", required=True)
    tiers = fields.Dict(keys=fields.String(), values=fields.Nested(OnCallNow), required=True)


class EscalationPage(Schema):
    """A page of your clinic's escalations, and who is on call now."""

    items = fields.List(fields.Nested(EscalationOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
    on_call = fields.Nested(
        InboxOnCall, metadata={"description": "Who the clinic's schedule has on call now."}
    )


class EvidenceOut(Schema):
    """What triggered an escalation: the rule and the answers it fired on."""

    id = fields.Integer(required=True)
    source_type = fields.String(required=True)
    source_id = fields.Integer(allow_none=True)
    rule = fields.String(required=True)
    rule_version = fields.String(required=True)
    priority = fields.String(required=True, metadata=enum(PRIORITIES))
    detail = fields.Dict(required=True, metadata={"description": "The triggering answers."})
    at = fields.AwareDateTime(format="iso", required=True)


class NotificationOut(Schema):
    """A message sent about the escalation (an outbox row), with its delivery status."""

    id = fields.Integer(required=True)
    purpose = fields.String(required=True)
    recipient_id = fields.Integer(allow_none=True)
    tier = fields.Integer(allow_none=True, attribute="escalation_tier")
    status = fields.String(required=True)
    delivery_status = fields.String(allow_none=True)
    twilio_sid = fields.String(allow_none=True)
    attempts = fields.Integer(required=True)
    error_code = fields.Integer(allow_none=True)
    created_at = fields.AwareDateTime(format="iso", required=True)
    sent_at = fields.AwareDateTime(format="iso", allow_none=True)
    channel = fields.String(metadata=enum((*CHANNELS, PAGER), "sms, voice or pager."))


class TimelineOut(Schema):
    """One event in an escalation's history (raised, paged, acknowledged, ...)."""

    id = fields.Integer(required=True)
    at = fields.AwareDateTime(format="iso", required=True)
    event = fields.String(required=True)
    actor_id = fields.Integer(allow_none=True)
    detail = fields.Dict(required=True)


class EscalationDetailOut(EscalationOut):
    """An escalation with its evidence, every notification sent and its timeline."""

    evidence = fields.List(fields.Nested(EvidenceOut), required=True)
    notifications = fields.List(fields.Nested(NotificationOut), required=True)
    timeline = fields.List(fields.Nested(TimelineOut), required=True)
    unreachable_clinicians = fields.List(
        fields.Integer(),
        required=True,
        metadata={
            "description": "Clinicians skipped because their number opted out of SMS "
            "or they have no phone."
        },
    )
