"""Housekeeping: forget what no longer needs keeping."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from services import idempotency
from store.models import AuthFailure, AuthSession

AUTH_FAILURE_RETENTION = timedelta(days=1)


def purge_expired(session: Session, *, now: datetime) -> dict[str, int]:
    """Delete expired idempotency keys, login sessions and old failure counts."""
    keys = idempotency.purge(session, now=now)
    sessions = session.execute(delete(AuthSession).where(AuthSession.expires_at < now))
    failures = session.execute(
        delete(AuthFailure).where(AuthFailure.at < now - AUTH_FAILURE_RETENTION)
    )
    return {
        "idempotency_keys": keys,
        "sessions": int(getattr(sessions, "rowcount", 0) or 0),
        "auth_failures": int(getattr(failures, "rowcount", 0) or 0),
    }
