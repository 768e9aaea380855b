"""Login, refresh, logout and activation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, request
from flask_jwt_extended import create_access_token, create_refresh_token, get_jwt
from flask_smorest import Blueprint

from api.auth.schemas import (
    TOKEN_TYPE,
    ActivateIn,
    LoginIn,
    PasswordChangeIn,
    RefreshOut,
    TokensOut,
)
from api.extensions import db, runtime
from api.security import require, the_user, token_session_id
from services import auth as auth_service

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign in and out.")


def _client_ip() -> str:
    return request.remote_addr or "unknown"


def _refresh_lifetime() -> timedelta:
    return timedelta(days=runtime().settings.refresh_token_days)


def _access_token(user_id: int, role: str, clinic_id: int | None, session_id: str) -> str:
    claims = {"role": role, "clinic_id": clinic_id, "sid": session_id}
    token: str = create_access_token(
        identity=str(user_id),
        additional_claims=claims,
        expires_delta=timedelta(minutes=runtime().settings.access_token_minutes),
    )
    return token


def _tokens(login: auth_service.Login) -> dict[str, Any]:
    user = login.user
    claims = {"role": user.role, "clinic_id": user.clinic_id, "sid": login.session_id}
    return {
        "access_token": _access_token(user.id, user.role, user.clinic_id, login.session_id),
        "refresh_token": create_refresh_token(
            identity=str(user.id), additional_claims=claims, expires_delta=_refresh_lifetime()
        ),
        "token_type": TOKEN_TYPE,
        "expires_in": runtime().settings.access_token_minutes * 60,
        "role": user.role,
        "user_id": user.id,
    }


@blp.post("/login")
@blp.arguments(LoginIn)
@blp.response(200, TokensOut)
@blp.alt_response(401, description="Unknown user or wrong password (the same answer).")
@blp.alt_response(429, description="Too many failures; see Retry-After.")
def login(data: dict[str, Any]) -> dict[str, Any]:
    """Sign in with e-mail or phone and password."""
    result = auth_service.login(
        db(),
        username=data["username"],
        password=data["password"],
        client_ip=_client_ip(),
        now=runtime().clock.now(),
        lifetime=_refresh_lifetime(),
    )
    return _tokens(result)


@blp.post("/refresh")
@require(refresh=True)
@blp.response(200, RefreshOut)
def refresh() -> dict[str, Any]:
    """Exchange a refresh token for a new access token."""
    user = the_user()
    session_id = get_jwt()["sid"]
    auth_service.check_session(db(), session_id=session_id, user_id=user.id)
    return {
        "access_token": _access_token(user.id, user.role, user.clinic_id, session_id),
        "token_type": TOKEN_TYPE,
        "expires_in": runtime().settings.access_token_minutes * 60,
    }


@blp.post("/logout")
@require()
@blp.response(204)
def logout() -> Response:
    """Revoke this login: its access and refresh tokens stop working."""
    auth_service.logout(db(), session_id=get_jwt()["sid"], now=runtime().clock.now())
    return Response(status=204)


@blp.post("/activate")
@blp.arguments(ActivateIn)
@blp.response(200, TokensOut)
@blp.alt_response(401, description="Wrong, expired or locked code.")
@blp.alt_response(429, description="Too many failures; see Retry-After.")
def activate(data: dict[str, Any]) -> dict[str, Any]:
    """A newly enrolled patient sets a password with the code sent by SMS."""
    result = auth_service.activate(
        db(),
        phone=data["phone"],
        code=data["code"],
        password=data["password"],
        client_ip=_client_ip(),
        now=runtime().clock.now(),
        lifetime=_refresh_lifetime(),
    )
    return _tokens(result)


@blp.post("/password")
@require()
@blp.arguments(PasswordChangeIn)
@blp.response(204)
@blp.alt_response(422, description="The current password is wrong, or the new one too weak.")
@blp.alt_response(429, description="Too many wrong current passwords; see Retry-After.")
def change_password(data: dict[str, Any]) -> Response:
    """Change your password; every other session of yours ends at once (this one stays)."""
    auth_service.change_password(
        db(),
        user=the_user(),
        session_id=token_session_id(),
        current_password=data["current_password"],
        new_password=data["new_password"],
        now=runtime().clock.now(),
    )
    return Response(status=204)
