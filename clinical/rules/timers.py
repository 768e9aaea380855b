"""Timers: a live session's overdue reading, the acute pace and maintenance overdue."""

from __future__ import annotations

from datetime import datetime, timedelta

from clinical._checks import require_aware
from clinical.rules.flags import Flag
from clinical.rules.settings import DEFAULTS, RULES_VERSION, EscalationRules
from clinical.rules.vitals import VITALS_INTERVAL
from clinical.vocabulary import Kind, Priority


def reading_due_since(
    *,
    started_at: datetime,
    last_reading_at: datetime | None,
    now: datetime,
    rules: EscalationRules = DEFAULTS,
) -> datetime | None:
    """The time the next reading fell due, once it is overdue (more than the limit old).

    A live session's last reading (or its start, before any) older than
    `vitals_overdue_minutes` means a reading is due; None while it is not.
    """
    require_aware("started_at", started_at)
    require_aware("now", now)
    anchor = max(started_at, last_reading_at) if last_reading_at is not None else started_at
    if now - anchor > timedelta(minutes=rules.vitals_overdue_minutes):
        return anchor + VITALS_INTERVAL
    return None


def vitals_overdue_flag(
    *, session_id: int, anchor: datetime, now: datetime, rules: EscalationRules = DEFAULTS
) -> Flag:
    """Routine vitals_overdue inbox item for a live session whose reading is late."""
    evidence = {
        "session_id": session_id,
        "last_reading_or_start": anchor.isoformat(),
        "minutes_since": int((now - anchor).total_seconds() // 60),
        "limit_minutes": rules.vitals_overdue_minutes,
        "rules_version": RULES_VERSION,
    }
    return Flag(
        Kind.VITALS_OVERDUE,
        Priority.ROUTINE,
        f"vitals.last_reading>{rules.vitals_overdue_minutes}min",
        evidence,
    )


def acute_session_missed(
    *, last_session_at: datetime, now: datetime, rules: EscalationRules = DEFAULTS
) -> Flag | None:
    """Routine flag when an acute-phase patient has gone more than acute_gap_days without one."""
    require_aware("last_session_at", last_session_at)
    require_aware("now", now)
    if now - last_session_at <= timedelta(days=rules.acute_gap_days):
        return None
    evidence = {
        "last_session_at": last_session_at.isoformat(),
        "gap_days_limit": rules.acute_gap_days,
        "days_since": (now - last_session_at).days,
        "rules_version": RULES_VERSION,
    }
    return Flag(
        Kind.ACUTE_SESSION_MISSED,
        Priority.ROUTINE,
        f"acute.no_session>{rules.acute_gap_days}d",
        evidence,
    )


def maintenance_overdue(
    *,
    last_session_at: datetime,
    interval_days: int,
    now: datetime,
    rules: EscalationRules = DEFAULTS,
) -> Flag | None:
    """Routine flag once `now` reaches last session + interval + grace days with no session."""
    require_aware("last_session_at", last_session_at)
    require_aware("now", now)
    due_at = last_session_at + timedelta(days=interval_days)
    overdue_at = due_at + timedelta(days=rules.maintenance_grace_days)
    if now < overdue_at:
        return None
    evidence = {
        "last_session_at": last_session_at.isoformat(),
        "interval_days": interval_days,
        "grace_days": rules.maintenance_grace_days,
        "due_at": due_at.isoformat(),
        "overdue_at": overdue_at.isoformat(),
        "days_late": (now - due_at).days,
        "rules_version": RULES_VERSION,
    }
    rule = f"maintenance.unrecorded>=interval+{rules.maintenance_grace_days}d"
    return Flag(Kind.MAINTENANCE_OVERDUE, Priority.ROUTINE, rule, evidence)
