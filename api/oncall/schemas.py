"""On-call schedule and clinician-settings bodies (issue 13)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.clinics.schemas import HHMM, ClinicianOut
from api.fields import AwareDateTime, Id, Phone, StrictInteger
from services.oncall import CHANNELS, notify_rules

TIERS = (1, 2, 3)
EARLIEST_DAY, LATEST_DAY = date(2000, 1, 1), date(2100, 12, 31)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2101, 1, 1, tzinfo=UTC)


def _in_range(value: datetime) -> None:
    # Far-off instants would overflow the calendar arithmetic; no schedule needs them.
    if not EARLIEST <= value < LATEST:
        raise ValidationError("Must be between 2000 and 2100.")


class RotationIn(Schema):
    """One tier's rotation: clinicians in turn, the hand-off time and the turn length."""

    rotation = fields.List(
        Id(),
        required=True,
        validate=validate.Length(1, 50, error="A rotation needs 1 to 50 clinicians."),
        metadata={"description": "Clinician ids in turn order."},
    )
    handoff = fields.String(
        required=True,
        validate=validate.Regexp(HHMM, error="Must be HH:MM (24-hour)."),
        metadata={"description": "Hand-off time, in the clinic's time zone."},
    )
    length_days = StrictInteger(required=True, validate=validate.Range(1, 365))
    starts_on = fields.Date(
        required=True,
        validate=validate.Range(EARLIEST_DAY, LATEST_DAY),
        metadata={"description": "The first member's first day (hand-off at `handoff`)."},
    )


class OverrideIn(Schema):
    """Put a clinician on call for a tier from start to end, over the rotation."""

    tier = StrictInteger(required=True, validate=validate.OneOf(TIERS))
    clinician_id = Id(required=True)
    start = AwareDateTime(required=True, validate=_in_range)
    end = AwareDateTime(required=True, validate=_in_range)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        if "start" in data and "end" in data and data["end"] <= data["start"]:
            raise ValidationError("Must be after start.", "end")


class OnCallIn(Schema):
    """A clinic's on-call schedule: a rotation per tier, and overrides."""

    tiers = fields.Dict(
        keys=fields.String(validate=validate.OneOf([str(t) for t in TIERS])),
        values=fields.Nested(RotationIn),
        required=True,
        metadata={"description": 'Rotation per tier ("1", "2", "3"); {} clears the schedule.'},
    )
    overrides = fields.List(
        fields.Nested(OverrideIn), load_default=list, validate=validate.Length(max=500)
    )


class OnCallQuery(Schema):
    at = AwareDateTime(
        load_default=None,
        validate=_in_range,
        metadata={"description": "The instant to ask about (default: now)."},
    )


class OnCallNowOut(Schema):
    """Who is on call for one tier, and until when."""

    clinician_id = fields.Integer(required=True)
    until = fields.AwareDateTime(format="iso", required=True)


class OnCallOut(Schema):
    """Who is on call per tier at an instant, and the schedule."""

    at = fields.AwareDateTime(format="iso", required=True)
    tiers = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(OnCallNowOut),
        required=True,
        metadata={"description": "Who the schedule puts on call per tier at `at`."},
    )
    schedule = fields.Dict(required=True, metadata={"description": "The stored schedule."})


class NotifyRule(Schema):
    """One way to page a clinician, and how long after the first page it starts."""

    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    after_minutes = StrictInteger(
        validate=validate.Range(0, 120),
        metadata={"description": "Minutes unacknowledged before this channel (voice: 5)."},
    )

    @validates_schema
    def _sms_at_once(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("channel") == "sms" and data.get("after_minutes", 0) != 0:
            raise ValidationError("SMS pages always go at once (0).", "after_minutes")


class ClinicianPatch(Schema):
    """Change a clinician: only the fields given change."""

    name = fields.String(validate=validate.Length(1, 200))
    phone = Phone()
    on_call_tier = StrictInteger(allow_none=True, validate=validate.OneOf(TIERS))
    notify = fields.List(
        fields.Nested(NotifyRule),
        allow_none=True,
        validate=validate.Length(max=2),
        metadata={
            "description": 'e.g. [{"channel": "sms", "after_minutes": 0}, '
            '{"channel": "voice", "after_minutes": 5}]; voice calls ring for urgent pages '
            "only; null: SMS only."
        },
    )


class ClinicianWithNotifyOut(ClinicianOut):
    """A clinician with their notification rules."""

    notify = fields.Function(
        notify_rules,
        allow_none=True,
        metadata={"type": "array", "items": {"type": "object"}, "nullable": True},
    )
