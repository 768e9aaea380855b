"""Clinics and their clinicians (admin)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinical.errors import InvalidInput
from clinical.rules import EscalationRules
from clinical.vocabulary import Priority
from notifications import paging
from services import audit
from services.auth import revoke_sessions
from services.errors import Conflict, Invalid, NotFound
from services.passwords import hash_secret
from store.models import Clinic, Role, User

# The stored form of the product defaults (named once, in notifications.paging).
DEFAULT_POLICY: dict[str, Any] = {
    "ack_timeout_seconds": dict(paging.DEFAULT_ACK_TIMEOUT_SECONDS),
    "repeat": paging.DEFAULT_REPEAT,
    "quiet_hours": {"start": paging.DEFAULT_QUIET_START, "end": paging.DEFAULT_QUIET_END},
    "fallback_phone": None,
}


# Safety floors (rules-2): the next tier is paged within these, and the chain runs at least once.
MAX_ACK_TIMEOUT_SECONDS = {Priority.URGENT: 900, Priority.HIGH: 3600}
MIN_REPEAT = 1


def checked_rules(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Rule settings as stored: only those given, each within its safety floor (422 otherwise)."""
    try:
        EscalationRules.from_mapping(settings, path="escalation_rules")
    except InvalidInput as error:
        raise Invalid(error.errors) from None
    return dict(settings)


def _floored_timeouts(stored: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**DEFAULT_POLICY["ack_timeout_seconds"], **stored}
    # Policies saved before the floors existed are held to them too.
    for priority, ceiling in MAX_ACK_TIMEOUT_SECONDS.items():
        value = merged.get(priority)
        if isinstance(value, int) and value > ceiling:
            merged[priority] = ceiling
    return merged


def effective_policy(stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """The clinic's policy with defaults filling every gap (and safety floors holding)."""
    stored = stored or {}
    repeat = stored.get("repeat", DEFAULT_POLICY["repeat"])
    policy = {
        "ack_timeout_seconds": _floored_timeouts(stored.get("ack_timeout_seconds", {})),
        "repeat": max(repeat, MIN_REPEAT) if isinstance(repeat, int) else repeat,
        "quiet_hours": {**DEFAULT_POLICY["quiet_hours"], **stored.get("quiet_hours", {})},
        "fallback_phone": stored.get("fallback_phone"),
    }
    # The pager hand-off (issue 13) appears only once set; the key is shown masked, as the
    # pager reads the stored one itself.
    if stored.get("events_url") or stored.get("events_routing_key"):
        policy["events_url"] = stored.get("events_url")
        policy["events_routing_key"] = _masked(stored.get("events_routing_key"))
    return policy


def _masked(secret: Any) -> str | None:
    if not isinstance(secret, str) or not secret:
        return None
    return "****" + secret[-4:] if len(secret) > 8 else "****"


def create_clinic(
    session: Session,
    *,
    actor: User | None,
    name: str,
    timezone: str,
    policy: Mapping[str, Any] | None,
    now: datetime,
    rules: Mapping[str, Any] | None = None,
) -> Clinic:
    clinic = Clinic(
        name=name,
        timezone=timezone,
        escalation_policy=dict(policy or {}),
        escalation_rules=checked_rules(rules or {}),
        created_at=now,
    )
    session.add(clinic)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="clinic.create",
        target_type="clinic",
        target_id=clinic.id,
        clinic_id=clinic.id,
        now=now,
    )
    return clinic


def get_clinic(session: Session, *, clinic_id: int) -> Clinic:
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        raise NotFound("No such clinic.")
    return clinic


def update_clinic(
    session: Session,
    *,
    actor: User,
    clinic_id: int,
    now: datetime,
    name: str | None = None,
    timezone: str | None = None,
    policy: Mapping[str, Any] | None = None,
    rules: Mapping[str, Any] | None = None,
) -> Clinic:
    """Change a clinic; a policy or rule settings given are merged over the stored ones."""
    clinic = get_clinic(session, clinic_id=clinic_id)
    if rules is not None:
        # Checked before anything changes: a refused setting leaves the clinic as it was.
        clinic.escalation_rules = checked_rules({**(clinic.escalation_rules or {}), **rules})
    if name is not None:
        clinic.name = name
    if timezone is not None:
        clinic.timezone = timezone
    if policy is not None:
        merged = dict(clinic.escalation_policy or {})
        for key, value in policy.items():
            if isinstance(value, Mapping):
                merged[key] = {**merged.get(key, {}), **value}
            else:
                merged[key] = value
        clinic.escalation_policy = merged
    changed = [
        k
        for k, v in (("name", name), ("timezone", timezone), ("policy", policy), ("rules", rules))
        if v is not None
    ]
    audit.record(
        session,
        actor=actor,
        action="clinic.update",
        target_type="clinic",
        target_id=clinic_id,
        clinic_id=clinic_id,
        now=now,
        detail={"fields": changed},
    )
    return clinic


def list_clinics(session: Session) -> list[Clinic]:
    return list(session.scalars(select(Clinic).order_by(Clinic.id)))


def ensure_unique_contact(session: Session, *, email: str | None, phone: str | None) -> None:
    """409 when the e-mail or phone already belongs to a user."""
    if email and session.scalars(select(User.id).where(User.email == email)).first():
        raise Conflict("A user with this e-mail already exists.")
    if phone and session.scalars(select(User.id).where(User.phone == phone)).first():
        raise Conflict("A user with this phone number already exists.")


def create_staff(
    session: Session,
    *,
    actor: User | None,
    role: str,
    name: str,
    email: str,
    phone: str | None,
    password: str,
    clinic_id: int | None,
    on_call_tier: int | None,
    now: datetime,
) -> User:
    """Create an admin or a clinician."""
    if clinic_id is not None:
        get_clinic(session, clinic_id=clinic_id)
    email = email.strip().lower()
    ensure_unique_contact(session, email=email, phone=phone)
    user = User(
        role=role,
        clinic_id=clinic_id,
        name=name,
        email=email,
        phone=phone,
        password_hash=hash_secret(password),
        is_active=True,
        on_call_tier=on_call_tier,
        created_at=now,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=f"{role}.create",
        target_type="user",
        target_id=user.id,
        clinic_id=clinic_id,
        now=now,
    )
    return user


def list_clinicians(session: Session, *, clinic_id: int | None) -> list[User]:
    query = select(User).where(User.role == Role.CLINICIAN, User.deleted_at.is_(None))
    if clinic_id is not None:
        query = query.where(User.clinic_id == clinic_id)
    return list(session.scalars(query.order_by(User.id)))


def deactivate_clinician(
    session: Session, *, actor: User, clinician_id: int, now: datetime
) -> User:
    """An admin disables a clinician: they cannot sign in, are not paged, and every session
    of theirs ends at once. Idempotent; 404 for anyone who is not a clinician."""
    user = session.get(User, clinician_id)
    if user is None or user.role != Role.CLINICIAN or user.deleted_at is not None:
        raise NotFound("No such clinician.")
    was_active = user.is_active
    user.is_active = False
    ended = revoke_sessions(session, user_id=user.id, now=now)
    if was_active:
        # Leaving the roster is leaving paging: colleagues are told, and an escalation that
        # nobody can be paged for now moves on at once (fallback phone) instead of waiting.
        from services.escalations import clinician_left_paging

        clinician_left_paging(session, clinician=user, now=now)
    if was_active or ended:
        audit.record(
            session,
            actor=actor,
            action="clinician.deactivate",
            target_type="user",
            target_id=user.id,
            clinic_id=user.clinic_id,
            now=now,
            detail={"sessions_ended": ended},
        )
    return user
