"""Strict value checks shared by the clinical modules (JSON-shaped input, aware times)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeGuard


def is_strict_int(value: object) -> TypeGuard[int]:
    """True for a real int; bool, float and str are refused."""
    return isinstance(value, int) and not isinstance(value, bool)


def int_in_range(value: object, low: int, high: int) -> TypeGuard[int]:
    """True for a strict int within low..high inclusive."""
    return is_strict_int(value) and low <= value <= high


def is_list_like(value: object) -> TypeGuard[Sequence[object]]:
    """True for a list or tuple (a JSON array), never a string or bytes."""
    return isinstance(value, list | tuple)


def require_aware(name: str, value: object) -> None:
    """Refuse a naive datetime: every instant in the clinical core carries an offset."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime.")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware.")
