"""The clinician web app: server-rendered pages over the same services as the API."""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from config import Settings

csrf = CSRFProtect()

SESSION_COOKIE = "tandem_web"


def init_web(app: Flask, settings: Settings) -> None:
    """Cookie session, CSRF and the ``/inbox`` blueprint."""
    # Each page module registers its views on the one blueprint when it is imported.
    from web import escalation, inbox, outcomes, patients, signin  # noqa: F401
    from web.blueprint import bp

    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_PATH="/inbox",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Plain HTTP only on a developer's machine; everywhere else the cookie needs TLS.
        SESSION_COOKIE_SECURE=settings.env != "development",
        # The API takes bearer tokens, not cookies, so only the web blueprint checks CSRF
        # (in its own before_request); every one of its POSTs needs the token.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,
    )
    csrf.init_app(app)
    app.register_blueprint(bp)
