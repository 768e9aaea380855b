"""Login, refresh, logout and patient activation."""

from __future__ import annotations

import math
import secrets
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from services import audit
from services.errors import Forbidden, Invalid, RateLimited, Unauthorized
from services.passwords import hash_secret, password_problems, verify_secret
from services.phones import normalize_e164
from store.dialects import is_postgresql
from store.models import ActivationCode, AuthFailure, AuthSession, PatientProfile, Role, User

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


def _serialize(session: Session, *, scope: str, key: str) -> None:
    """Take the key's lock until this transaction ends, so count, check and record are atomic.

    Without it, 40 concurrent guesses all count the same few failures before any records
    its own (14 checked against a limit of 5). PostgreSQL: a transaction-scoped advisory
    lock on the key, released at commit or rollback. SQLite: every transaction already
    begins IMMEDIATE (store.database), which serializes writers, so nothing more is needed.
    """
    if is_postgresql(session):
        session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(f"{scope}:{key}", 0)))
        )


def _throttle(
    session: Session,
    *,
    scope: str,
    keys: list[tuple[str, int]],
    now: datetime,
    serialize: str | None = None,
) -> None:
    """Refuse with 429 when any key has had too many failures in the window.

    `serialize` names the key whose count must be exact under concurrency (the user's or
    the phone's): requests for it wait their turn. The per-address count is not serialized,
    as that would queue every login behind one proxy; it stays a coarse, approximate limit.
    """
    if serialize is not None:
        _serialize(session, scope=scope, key=serialize)
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
            # keep_changes: the audit trail keeps the throttled attempt (nothing else is written).
            raise RateLimited(
                "Too many failed attempts. Wait before trying again.",
                retry_after=retry_after,
                keep_changes=True,
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
    user = find_user_by_username(session, username)
    try:
        _throttle(
            session,
            scope="login",
            keys=[(key, LOGIN_MAX_FAILURES), ("ip:" + client_ip, LOGIN_MAX_FAILURES_PER_IP)],
            now=now,
            serialize=key,
        )
    except RateLimited:
        audit.record_login(
            session, user=user, action="auth.login_failed", now=now, reason="throttled"
        )
        raise
    usable = user is not None and user.is_active and user.deleted_at is None
    ok = verify_secret(user.password_hash if usable and user else None, password)
    if not (ok and user and usable):
        audit.record_login(
            session, user=user, action="auth.login_failed", now=now, reason="bad_credentials"
        )
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
    audit.record_login(session, user=user, action="auth.login", now=now)
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


def _claim_attempt(session: Session, code: ActivationCode, *, now: datetime) -> bool:
    """Count one try of an unused, unexpired code that has tries left; False otherwise."""
    claimed = session.execute(
        update(ActivationCode)
        .where(
            ActivationCode.id == code.id,
            ActivationCode.used_at.is_(None),
            ActivationCode.expires_at > now,
            ActivationCode.attempts < ACTIVATION_MAX_ATTEMPTS,
        )
        .values(attempts=ActivationCode.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(code)
    return bool(getattr(claimed, "rowcount", 0))


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
    user = session.scalars(
        select(User).where(User.phone == normalized, User.role == Role.PATIENT)
    ).first()
    try:
        _throttle(
            session,
            scope="activate",
            keys=[
                (normalized, ACTIVATION_MAX_ATTEMPTS * 2),
                ("ip:" + client_ip, LOGIN_MAX_FAILURES_PER_IP),
            ],
            now=now,
            serialize=normalized,
        )
    except RateLimited:
        audit.record_login(
            session, user=user, action="auth.activate_failed", now=now, reason="throttled"
        )
        raise
    failure = "The code is wrong, expired or used up. Ask your clinic for a new one."
    active_code = None
    if user is not None and user.is_active and user.deleted_at is None:
        active_code = session.scalars(
            select(ActivationCode)
            .where(ActivationCode.user_id == user.id, ActivationCode.used_at.is_(None))
            .order_by(ActivationCode.id.desc())
        ).first()
    # Claim one of the code's tries before checking it, in one conditional UPDATE: under
    # concurrency the row lock makes the count exact, so at most 5 guesses are ever checked.
    usable = active_code is not None and _claim_attempt(session, active_code, now=now)
    matches = verify_secret(active_code.code_hash if usable and active_code else None, code)
    if not matches or user is None or active_code is None:
        audit.record_login(
            session, user=user, action="auth.activate_failed", now=now, reason="bad_code"
        )
        _fail(
            session, scope="activate", keys=[normalized, "ip:" + client_ip], now=now, detail=failure
        )
    assert user is not None and active_code is not None
    active_code.used_at = now
    user.password_hash = hash_secret(password)
    # A new password ends every earlier login: whoever held the old one is out at once.
    revoke_sessions(session, user_id=user.id, now=now)
    audit.record_login(session, user=user, action="auth.activate", now=now)
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


def revoke_sessions(
    session: Session, *, user_id: int, now: datetime, keep: str | None = None
) -> int:
    """End every live login session of a user (but `keep`): their tokens stop at once.

    Access and refresh tokens carry their session's id and every request checks it
    (api.security), so revoking the row is enough; returns how many ended.
    """
    query = (
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    if keep is not None:
        query = query.where(AuthSession.id != keep)
    return int(getattr(session.execute(query), "rowcount", 0) or 0)


def change_password(
    session: Session,
    *,
    user: User,
    session_id: str,
    current_password: str,
    new_password: str,
    now: datetime,
) -> None:
    """Change the signed-in user's password; every *other* session of theirs ends.

    A wrong current password is a 422 naming the field and counts towards the same
    throttle as a failed login of that user (a stolen access token cannot be used to guess
    the password faster than the login form allows).
    """
    key = _username_key(user.email or user.phone or str(user.id))
    _throttle(session, scope="login", keys=[(key, LOGIN_MAX_FAILURES)], now=now, serialize=key)
    if not verify_secret(user.password_hash, current_password):
        session.add(AuthFailure(scope="login", key=key, at=now))
        audit.record_login(
            session, user=user, action="auth.password_change_failed", now=now, reason="bad_current"
        )
        raise Invalid({"current_password": ["Is not your current password."]}, keep_changes=True)
    problems = password_problems(new_password)
    if problems:
        raise Invalid({"new_password": problems})
    user.password_hash = hash_secret(new_password)
    ended = revoke_sessions(session, user_id=user.id, now=now, keep=session_id)
    audit.record(
        session,
        actor=user,
        action="auth.password_changed",
        target_type="user",
        target_id=user.id,
        now=now,
        detail={"sessions_ended": ended},
    )
