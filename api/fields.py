"""Marshmallow fields shared by the resources: strict types, clear messages."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, available_timezones

from flask import g
from marshmallow import Schema, ValidationError, fields, validate

from clinical.rules import KINDS
from services.phones import normalize_e164

# The largest id PostgreSQL's INTEGER primary keys hold: a bigger number names no record.
ID_MAX = 2**31 - 1
# Beyond a signed 64-bit integer SQLite overflows (a 500); no field needs more.
INT64_MAX = 2**63 - 1
# Timestamps from clients: far from datetime's limits, so arithmetic on them cannot overflow.
TIMESTAMP_MIN_YEAR = 1900
TIMESTAMP_MAX_YEAR = 2200


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


class Phone(fields.String):
    """An E.164 phone number (+ and country code), normalised."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        normalized = normalize_e164(raw)
        if normalized is None:
            raise ValidationError("Must be a phone number in E.164 form, e.g. +12025550123.")
        return normalized


class TimeZone(fields.String):
    """An IANA time zone name such as America/New_York."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        if raw not in _zones() or raw in {"localtime", "Factory"}:
            raise ValidationError("Must be an IANA time zone such as America/New_York.")
        return raw


class StrictInteger(fields.Integer):
    """An integer that refuses booleans, floats and strings."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise ValidationError("Not a valid integer.")
        result: int = super()._deserialize(value, attr, data, **kwargs)
        if abs(result) > INT64_MAX:
            raise ValidationError("Number too large.")
        return result


class Id(StrictInteger):
    """The id of a record: a whole number from 1 to the largest id the database holds."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            validate=validate.Range(1, ID_MAX, error="Must be a record id (a positive integer)."),
            **kwargs,
        )


class StrictNumber(fields.Float):
    """A JSON number (never a string or a boolean)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError("Not a valid number.")
        result: float = super()._deserialize(value, attr, data, **kwargs)
        return result


class StrictBoolean(fields.Boolean):
    """A JSON true or false only."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Not a valid boolean.")
        return value


class AwareDateTime(fields.AwareDateTime):
    """An ISO 8601 timestamp with an offset."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise ValidationError("Must be an ISO 8601 timestamp with an offset.")
        result: datetime = super()._deserialize(value, attr, data, **kwargs)
        # Near datetime's year 1 / 9999 limits, converting to UTC or adding a window (the
        # vitals window, a task's expiry) overflows (a 500): no date Tandem records is there.
        if not TIMESTAMP_MIN_YEAR <= result.year <= TIMESTAMP_MAX_YEAR:
            raise ValidationError(
                f"Must be a timestamp between {TIMESTAMP_MIN_YEAR} and {TIMESTAMP_MAX_YEAR}."
            )
        return result


def show_times_in(tz: ZoneInfo | None) -> None:
    """Dump this response's `ShownDateTime`s in `tz` (a patient's zone); None keeps UTC."""
    g.shown_tz = tz


class ShownDateTime(AwareDateTime):
    """A timestamp shown in the viewer's zone (set by `show_times_in`), else as stored (UTC)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        tz: ZoneInfo | None = g.get("shown_tz")
        if value is not None and tz is not None:
            value = value.astimezone(tz)
        result: str | float | None = super()._serialize(value, attr, obj, **kwargs)
        return None if result is None else str(result)


class NestedFrom(fields.Nested):
    """A nested schema dumping `source(obj)`: a derived value, still documented by its schema."""

    def __init__(self, nested: Any, *, source: Callable[[Any], Any], **kwargs: Any) -> None:
        super().__init__(nested, **kwargs)
        self._source = source

    def serialize(
        self,
        attr: str,
        obj: Any,
        accessor: Callable[[Any, str, Any], Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        return self._serialize(self._source(obj), attr, obj, **kwargs)  # type: ignore[no-untyped-call]


class FlagKinds(fields.List[str]):
    """The kinds of the rules that fired, from flags (objects, or their stored dicts)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.String(metadata=enum(KINDS)), **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> list[Any] | None:
        if value is None:
            return None
        kinds = [f["kind"] if isinstance(f, Mapping) else f.kind for f in value]
        result: list[Any] | None = super()._serialize(kinds, attr, obj, **kwargs)
        return result


def enum(values: Any, description: str | None = None) -> dict[str, Any]:
    """Field metadata naming a closed vocabulary (for dump-only fields; inputs use OneOf)."""
    meta: dict[str, Any] = {"enum": list(values)}
    if description:
        meta["description"] = description
    return meta


class HoldingSchema(Schema):
    """Dumps a record, or a service's result holding one (in `HELD`) beside facts about it.

    The holder's own attributes come first (an inbox entry's `unpageable`, a recorded
    session's `escalation`), then the record's.
    """

    HELD: ClassVar[str] = "record"
    HELD_TYPE: ClassVar[type[Any]] = object

    def held(self, obj: Any) -> Any:
        return obj if isinstance(obj, self.HELD_TYPE) else getattr(obj, self.HELD)

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        if not isinstance(obj, self.HELD_TYPE) and hasattr(obj, attr):
            return getattr(obj, attr)
        return super().get_attribute(self.held(obj), attr, default)


class PageQuery(Schema):
    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(1, 200),
        metadata={"description": "Page size, 1-200 (default 50)."},
    )
    cursor = fields.String(
        load_default=None,
        validate=validate.Length(1, 200),
        metadata={"description": "Opaque cursor from next_cursor."},
    )


class CrisisResource(Schema):
    """One place to get help now: a name, and the numbers or link to reach it."""

    name = fields.String(required=True, metadata={"example": "988 Suicide & Crisis Lifeline"})
    country = fields.String(required=True, metadata={"example": "US"})
    call = fields.String(metadata={"description": "Number to call.", "example": "988"})
    text = fields.String(metadata={"description": "Number to text.", "example": "988"})
    chat = fields.String(
        metadata={"description": "Chat link.", "example": "https://988lifeline.org"}
    )
    available = fields.String(required=True, metadata={"example": "24/7"})


class CrisisResources(Schema):
    """Where to get help now, shown to a patient who reported suicidal thoughts (988, 911)."""

    message = fields.String(
        required=True,
        metadata={
            "description": "Show this first, as it is.",
            "example": "If you are in danger now, call 911.",
        },
    )
    resources = fields.List(fields.Nested(CrisisResource), required=True)


class ProblemSchema(Schema):
    """An RFC 9457 problem document (application/problem+json)."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    instance = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    crisis_resources = fields.Nested(
        CrisisResources,
        metadata={
            "description": "On a refused or failed self-report that signalled suicidal "
            "thoughts: where to get help now (988, 911)."
        },
    )
    safety_signal_recorded = fields.Boolean(
        metadata={
            "description": "On a refused or failed self-report: its readable suicidality "
            "answer was still recorded on a suicidality escalation and paged per the rules."
        }
    )
