"""Authentication glue: JWT callbacks, the current user, and role checks."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Response
from flask_jwt_extended import current_user, get_jwt, verify_jwt_in_request
from sqlalchemy import select

from api.errors import problem
from api.extensions import db, jwt
from api.openapi import ROLES_KEY
from services.errors import Forbidden
from store.models import AuthSession, Role, User

P = ParamSpec("P")
R = TypeVar("R")

BEARER_SCHEME = "bearerAuth"


def _unauthorized(detail: str) -> Response:
    return problem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="tandem"'})


@jwt.user_lookup_loader
def _load_user(_header: dict[str, Any], payload: dict[str, Any]) -> User | None:
    try:
        user_id = int(payload["sub"])
    except (KeyError, TypeError, ValueError):
        return None
    user = db().get(User, user_id)
    if user is None or not user.is_active or user.deleted_at is not None:
        return None
    return user


@jwt.token_in_blocklist_loader
def _revoked(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
    session_id = payload.get("sid")
    if not isinstance(session_id, str):
        return True
    row = (
        db()
        .execute(
            select(AuthSession.revoked_at, AuthSession.user_id).where(AuthSession.id == session_id)
        )
        .first()
    )
    return row is None or row.revoked_at is not None or str(row.user_id) != payload.get("sub")


@jwt.token_verification_loader
def _claims_complete(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
    # PyJWT checks `exp` only when present: a token without one would never expire.
    return isinstance(payload.get("exp"), int | float) and not isinstance(payload["exp"], bool)


@jwt.unauthorized_loader
def _missing(reason: str) -> Response:
    return _unauthorized("A bearer token is required.")


@jwt.invalid_token_loader
def _invalid(reason: str) -> Response:
    return _unauthorized("The token is invalid.")


@jwt.expired_token_loader
def _expired(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return _unauthorized("The token has expired.")


@jwt.revoked_token_loader
def _revoked_response(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return _unauthorized("The token has been revoked.")


@jwt.user_lookup_error_loader
def _no_user(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return _unauthorized("The token's user no longer exists or is disabled.")


@jwt.needs_fresh_token_loader
def _not_fresh(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return _unauthorized("A fresh login is required.")


@jwt.token_verification_failed_loader
def _claims_failed(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return _unauthorized("The token is invalid.")


def require(*roles: Role, refresh: bool = False) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Require a valid token and one of ``roles`` (403 otherwise)."""

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            verify_jwt_in_request(refresh=refresh)
            if roles and the_user().role not in roles:
                raise Forbidden("Your role may not use this endpoint.")
            return view(*args, **kwargs)

        doc = getattr(wrapper, "_apidoc", {})
        wrapper._apidoc = {  # type: ignore[attr-defined]
            **doc,
            "manual_doc": {
                **doc.get("manual_doc", {}),
                "security": [{BEARER_SCHEME: []}],
                # Read (and removed) by api.openapi, which writes it into the description.
                ROLES_KEY: list(roles),
            },
        }
        return wrapper

    return decorator


def the_user() -> User:
    """The authenticated user of this request."""
    user: User = current_user
    return user


def token_session_id() -> str:
    """The login session id carried by this request's token."""
    sid: str = get_jwt()["sid"]
    return sid
