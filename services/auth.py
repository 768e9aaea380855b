"""Login, refresh, logout and patient activation."""

from __future__ import annotations

import math
import secrets
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from services.errors import Forbidden, Invalid, RateLimited, Unauthorized
from services.passwords import hash_secret, password_problems, verify_secret
from services.phones import normalize_e164
from store.models import ActivationCode, AuthFailure, AuthSession, PatientProfile, User

ACTIVATION_CODE_TTL = timedelta(hours=24)
ACTIVATION_MAX_ATTEMPTS = 5
ACTIVATION_CODE_DIGITS = 6
# Per username (or phone) and per client address, counted across processes.
LOGIN_MAX_FAILURES = 5
LOGIN_MAX_FAILURES_PER_IP = 50
FAILURE_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Login:
    user: User
    session_id: str


def find_user_by_username(session: Session, username: str) -> User | None:
    """A user by e-mail (case-insensitive) or E.164 phone."""
    username = username.strip()
    if username.startswith("+"):
        phone = normalize_e164(username)
        if phone is None:
            return None
        return session.scalars(select(User).where(User.phone == phone)).first()
    return session.scalars(select(User).where(User.email == username.lower())).first()


def _username_key(username: str) -> str:
    """The throttling key: the canonical e-mail or phone, so spellings share one count."""
    stripped = username.strip()
    if stripped.startswith("+"):
        return normalize_e164(stripped) or stripped.lower()
    return stripped.lower()


def _throttle(session: Session, *, scope: str, keys: list[tuple[str, int]], now: datetime) -> None:
    """Refuse with 429 when any key has had too many failures in the window."""
    since = now - FAILURE_WINDOW
    for key, limit in keys:
        count, oldest = session.execute(
            select(func.count(AuthFailure.id), func.min(AuthFailure.at)).where(
                AuthFailure.scope == scope, AuthFailure.key == key, AuthFailure.at > since
            )
        ).one()
        if count >= limit:
            # The oldest failure leaves the window at exactly this moment.
            retry_after = math.ceil((oldest + FAILURE_WINDOW - now).total_seconds())
            raise RateLimited(
                "Too many failed attempts. Wait before trying again.", retry_after=retry_after
            )


def _fail(session: Session, *, scope: str, keys: list[str], now: datetime, detail: str) -> None:
    for key in keys:
        session.add(AuthFailure(scope=scope, key=key, at=now))
    raise Unauthorized(detail, keep_changes=True)


def start_session(session: Session, *, user: User, now: datetime, lifetime: timedelta) -> Login:
    """Open a login session; its id goes into both tokens so logout can revoke both."""
    auth_session = AuthSession(
        id=str(uuid.uuid4()), user_id=user.id, created_at=now, expires_at=now + lifetime
    )
    session.add(auth_session)
    session.flush()
    return Login(user=user, session_id=auth_session.id)


def login(
    session: Session,
    *,
    username: str,
    password: str,
    client_ip: str,
    now: datetime,
    lifetime: timedelta,
    roles: Collection[str] | None = None,
) -> Login:
    """Check credentials; unknown user and wrong password fail the same way.

    With ``roles``, a correct login of any other role is refused (403) and opens no session.
    """
    key = _username_key(username)
    _throttle(
        session,
        scope="login",
        keys=[(key, LOGIN_MAX_FAILURES), ("ip:" + client_ip, LOGIN_MAX_FAILURES_PER_IP)],
        now=now,
    )
    user = find_user_by_username(session, username)
    usable = user is not None and user.is_active and user.deleted_at is None
    ok = verify_secret(user.password_hash if usable and user else None, password)
    if not (ok and user and usable):
        _fail(
            session,
            scope="login",
            keys=[key, "ip:" + client_ip],
            now=now,
            detail="The username or password is wrong.",
        )
    assert user is not None
    if roles is not None and user.role not in roles:
        raise Forbidden("This sign-in is for clinic staff. Patients use the Tandem app.")
    # A successful login clears the user's failure count.
    session.execute(delete(AuthFailure).where(AuthFailure.scope == "login", AuthFailure.key == key))
    return start_session(session, user=user, now=now, lifetime=lifetime)


def check_session(session: Session, *, session_id: str, user_id: int) -> None:
    """Refuse a refresh for a revoked or unknown login session."""
    row = session.get(AuthSession, session_id)
    if row is None or row.revoked_at is not None or row.user_id != user_id:
        raise Unauthorized("The token has been revoked.")


def logout(session: Session, *, session_id: str, now: datetime) -> None:
    """Revoke the login session: its access and refresh tokens stop working."""
    row = session.get(AuthSession, session_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = now


def new_activation_code(session: Session, *, user: User, now: datetime) -> str:
    """Issue a fresh 6-digit code (earlier unused codes stop working)."""
    for old in session.scalars(
        select(ActivationCode).where(
            ActivationCode.user_id == user.id, ActivationCode.used_at.is_(None)
        )
    ):
        old.used_at = now
    code = f"{secrets.randbelow(10**ACTIVATION_CODE_DIGITS):0{ACTIVATION_CODE_DIGITS}d}"
    session.add(
        ActivationCode(
            user_id=user.id,
            code_hash=hash_secret(code),
            attempts=0,
            created_at=now,
            expires_at=now + ACTIVATION_CODE_TTL,
        )
    )
    return code


def activate(
    session: Session,
    *,
    phone: str,
    code: str,
    password: str,
    client_ip: str,
    now: datetime,
    lifetime: timedelta,
) -> Login:
    """A patient proves the SMS code and sets a password; returns a login."""
    problems = password_problems(password)
    if problems:
        raise Invalid({"password": problems})
    normalized = normalize_e164(phone) or phone
    _throttle(
        session,
        scope="activate",
        keys=[
            (normalized, ACTIVATION_MAX_ATTEMPTS * 2),
            ("ip:" + client_ip, LOGIN_MAX_FAILURES_PER_IP),
        ],
        now=now,
    )
    failure = "The code is wrong, expired or used up. Ask your clinic for a new one."
    user = session.scalars(
        select(User).where(User.phone == normalized, User.role == "patient")
    ).first()
    active_code = None
    if user is not None and user.is_active and user.deleted_at is None:
        active_code = session.scalars(
            select(ActivationCode)
            .where(ActivationCode.user_id == user.id, ActivationCode.used_at.is_(None))
            .order_by(ActivationCode.id.desc())
        ).first()
    usable = (
        active_code is not None
        and active_code.expires_at > now
        and active_code.attempts < ACTIVATION_MAX_ATTEMPTS
    )
    matches = verify_secret(active_code.code_hash if usable and active_code else None, code)
    if not matches or user is None or active_code is None:
        if usable and active_code is not None:
            active_code.attempts += 1
        _fail(
            session, scope="activate", keys=[normalized, "ip:" + client_ip], now=now, detail=failure
        )
    assert user is not None and active_code is not None
    active_code.used_at = now
    user.password_hash = hash_secret(password)
    profile = session.get(PatientProfile, user.id)
    if profile is not None and profile.activated_at is None:
        profile.activated_at = now
    return start_session(session, user=user, now=now, lifetime=lifetime)


def resume_session(
    session: Session, *, session_id: str, user_id: int, now: datetime, idle: timedelta | None
) -> User:
    """The user of a live login session (401 when revoked, expired or disabled).

    With ``idle``, the session's expiry moves to ``now + idle``: a session that sees no
    activity for that long ends, whatever the cookie says.
    """
    row = session.get(AuthSession, session_id)
    user = session.get(User, user_id)
    if (
        row is None
        or row.revoked_at is not None
        or row.user_id != user_id
        or row.expires_at <= now
        or user is None
        or not user.is_active
        or user.deleted_at is not None
    ):
        raise Unauthorized("Your session has ended. Sign in again.")
    if idle is not None:
        row.expires_at = now + idle
    return user
