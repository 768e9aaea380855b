"""Signing in and out of the web app, and the cookie session every other page needs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import Response, flash, g, redirect, render_template, request, session, url_for

from api.extensions import db
from services import auth
from services.errors import Forbidden, RateLimited, Unauthorized
from store.models import Role, User
from web.blueprint import bp
from web.forms import LoginForm

P = ParamSpec("P")
R = TypeVar("R")

# A signed-in page expires after this long without activity (polling is not activity).
IDLE_TIMEOUT = timedelta(minutes=15)
STAFF_ROLES = (Role.CLINICIAN,)


class SignInNeeded(Exception):
    """No live session: pages send the browser to the login form."""


def _viewer(*, activity: bool) -> User:
    session_id, user_id = session.get("sid"), session.get("uid")
    if not isinstance(session_id, str) or not isinstance(user_id, int):
        raise SignInNeeded
    try:
        user = auth.resume_session(
            db(),
            session_id=session_id,
            user_id=user_id,
            now=g.now,
            idle=IDLE_TIMEOUT if activity else None,
        )
    except Unauthorized:
        raise SignInNeeded from None
    if user.role not in STAFF_ROLES:
        raise SignInNeeded
    return user


def signed_in(*, activity: bool = True) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Require a live clinician session; ``activity=False`` for polling, which never extends it."""

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            g.viewer = _viewer(activity=activity)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def viewer() -> User:
    """The clinician signed in for this request (set by ``signed_in``)."""
    user: User = g.viewer
    return user


def _safe_next(target: str | None) -> str | None:
    """Only a path of this app: never another origin (an open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/inbox") or "\\" in target:
        return None
    return target


@bp.errorhandler(SignInNeeded)
def _sign_in(_error: SignInNeeded) -> Response:
    session.clear()
    if request.endpoint == "web.inbox_rows":
        return Response("Your session has ended.", status=401, mimetype="text/plain")
    target = request.full_path if request.method == "GET" else None
    location = url_for("web.login", next=_safe_next(target.rstrip("?") if target else None))
    return redirect(location, 303)  # type: ignore[return-value]


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    next_url = _safe_next(request.args.get("next"))
    if request.method == "GET":
        return render_template("login.html", form=form, next_url=next_url)
    try:
        result = auth.login(
            db(),
            username=form.username.data or "",
            password=form.password.data or "",
            client_ip=request.remote_addr or "unknown",
            now=g.now,
            lifetime=IDLE_TIMEOUT,
            roles=STAFF_ROLES,
        )
    except Unauthorized as error:
        g.keep_changes = True  # the failed attempt counts toward the throttle
        return render_template("login.html", form=form, error=error.detail, next_url=next_url), 401
    except Forbidden as error:
        return render_template("login.html", form=form, error=error.detail, next_url=next_url), 403
    except RateLimited as error:
        page = render_template("login.html", form=form, error=error.detail, next_url=next_url)
        return page, 429, {"Retry-After": str(error.retry_after)}
    session.clear()
    session["sid"] = result.session_id
    session["uid"] = result.user.id
    return redirect(next_url or url_for("web.inbox"), 303)


@bp.post("/logout")
def logout() -> Any:
    session_id = session.get("sid")
    if isinstance(session_id, str):
        auth.logout(db(), session_id=session_id, now=g.now)
    session.clear()
    flash("You have signed out.")
    return redirect(url_for("web.login"), 303)
