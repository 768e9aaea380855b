"""Offline-safe writes: the same Idempotency-Key replays the first answer."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.errors import Conflict, Invalid
from store.models import IdempotencyRecord

KEY_MAX_LENGTH = 128
RETENTION = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Replay:
    status: int
    body: dict[str, Any] | None


def check_key(key: str) -> None:
    """1-128 printable ASCII characters."""
    if not 1 <= len(key) <= KEY_MAX_LENGTH or not all(33 <= ord(c) <= 126 for c in key):
        raise Invalid(
            {
                "Idempotency-Key": [
                    f"Must be 1-{KEY_MAX_LENGTH} printable characters without spaces."
                ]
            }
        )


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def _replay_or_conflict(record: IdempotencyRecord, request_hash: str) -> Replay:
    if record.request_hash != request_hash:
        raise Conflict("This Idempotency-Key was used with a different request.")
    if record.response_status is None:
        raise Conflict("A request with this Idempotency-Key is still being processed.")
    return Replay(status=record.response_status, body=record.response_body)


def begin(
    session: Session,
    *,
    user_id: int,
    key: str,
    method: str,
    path: str,
    request_hash: str,
    now: datetime,
) -> Replay | IdempotencyRecord:
    """The stored answer to replay, or a new claim on the key for this request."""
    check_key(key)
    query = select(IdempotencyRecord).where(
        IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
    )
    existing = session.scalars(query).first()
    if existing is not None and existing.created_at > now - RETENTION:
        return _replay_or_conflict(existing, request_hash)
    if existing is not None:
        session.delete(existing)
        session.flush()
    record = IdempotencyRecord(
        user_id=user_id,
        key=key,
        method=method,
        path=path,
        request_hash=request_hash,
        created_at=now,
    )
    try:
        # A concurrent request with the same key waits here until the first commits.
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        winner = session.scalars(query.execution_options(populate_existing=True)).first()
        if winner is None:
            raise Conflict("A request with this Idempotency-Key is being processed.") from None
        return _replay_or_conflict(winner, request_hash)
    return record


def finish(record: IdempotencyRecord, *, status: int, body: dict[str, Any] | None) -> None:
    """Remember the answer to replay."""
    record.response_status = status
    record.response_body = body


def purge(session: Session, *, now: datetime) -> int:
    """Forget keys older than the retention period."""
    result = session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - RETENTION)
    )
    return int(getattr(result, "rowcount", 0) or 0)
