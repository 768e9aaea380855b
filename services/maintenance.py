"""Housekeeping: forget what no longer needs keeping."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from services import idempotency
from services.runtime import Runtime
from store.models import AuthFailure, AuthSession

AUTH_FAILURE_RETENTION = timedelta(days=1)


def purge_expired(rt: Runtime) -> dict[str, int]:
    """Delete expired idempotency keys, login sessions and old failure counts."""
    now = rt.clock.now()
    with rt.database.unit_of_work() as session:
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
