"""Cursor pagination: newest first, an opaque cursor, a bounded page."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from services.errors import Invalid

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# Keys are database ids; a larger "position" was never issued (and overflows SQLite).
MAX_POSITION = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(value: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{value}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The position a cursor stands for; 422 for anything we did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = raw.partition(":")
        if prefix != "v1":
            raise ValueError(prefix)
        value = int(number)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise Invalid({"cursor": ["Not a cursor this service issued."]}) from None
    if not 0 <= value <= MAX_POSITION:
        raise Invalid({"cursor": ["Not a cursor this service issued."]})
    return value


def paginate(
    session: Session,
    query: Select[Any],
    *,
    key: InstrumentedAttribute[int],
    limit: int,
    cursor: str | None,
) -> Page[Any]:
    """One page of ``query`` ordered by ``key`` descending (newest first)."""
    if cursor:
        query = query.where(key < decode_cursor(cursor))
    rows = list(session.scalars(query.order_by(key.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(getattr(rows[-1], key.key)) if more and rows else None
    return Page(items=rows, next_cursor=next_cursor)
