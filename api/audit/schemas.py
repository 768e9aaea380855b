"""Audit trail query and items."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.fields import ID_MAX, AwareDateTime, PageQuery, enum
from store.models import ROLES, AuditEvent

_ID = validate.Range(1, ID_MAX, error="Must be a record id (a positive integer).")


class AuditQuery(PageQuery):
    patient_id = fields.Integer(
        load_default=None, validate=_ID, metadata={"description": "Whose data."}
    )
    actor_id = fields.Integer(load_default=None, validate=_ID, metadata={"description": "Who."})
    since = AwareDateTime(
        load_default=None,
        metadata={"description": "Events at or after this instant (ISO 8601 with an offset)."},
    )


def _target(event: AuditEvent) -> str | None:
    return f"{event.target_type}/{event.target_id}" if event.target_id is not None else None


class AuditEventOut(Schema):
    """One audited read, change or sign-in."""

    id = fields.Integer(required=True)
    at = fields.AwareDateTime(format="iso", required=True)
    actor_id = fields.Integer(required=True, allow_none=True)
    actor_role = fields.String(required=True, allow_none=True, metadata=enum((*ROLES, None)))
    action = fields.String(required=True, metadata={"description": "e.g. checkins.read"})
    patient_id = fields.Integer(required=True, allow_none=True)
    target = fields.Function(
        _target,
        required=True,
        allow_none=True,
        metadata={"type": "string", "nullable": True, "description": "type/id, e.g. patient/12"},
    )
    target_type = fields.String(required=True)
    target_id = fields.String(required=True, allow_none=True)
    clinic_id = fields.Integer(required=True, allow_none=True)
    detail = fields.Function(
        lambda event: dict(event.detail or {}),
        required=True,
        metadata={"type": "object", "description": "Ids and categories only."},
    )


class AuditPage(Schema):
    """A page of the audit trail, newest first."""

    items = fields.List(fields.Nested(AuditEventOut), required=True)
    next_cursor = fields.String(required=True, allow_none=True)
