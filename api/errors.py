"""RFC 9457 problem documents for every error, from one table of statuses."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, has_request_context, json, request
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from api.problems.catalogue import CATALOGUE
from clinical.errors import InvalidInput
from services import errors as domain

log = logging.getLogger("tandem.api")

PROBLEM_JSON = "application/problem+json"
# The catalogue explains every type; its pages are served under /problems/.
TITLES: Mapping[int, str] = {p.status: p.title for p in CATALOGUE}
SLUGS: Mapping[int, str] = {p.status: p.slug for p in CATALOGUE}


def problem_base() -> str:
    """Where this Tandem is reached: PUBLIC_BASE_URL, else the request's own root URL."""
    if has_request_context():
        from api.extensions import runtime

        configured = runtime().settings.public_base_url
        return (configured or request.url_root).rstrip("/")
    return ""


# Domain error class -> HTTP status: the one place where the mapping lives.
STATUS_FOR: Mapping[type[domain.ServiceError], int] = {
    domain.Invalid: 422,
    domain.NotFound: 404,
    domain.Forbidden: 403,
    domain.Unauthorized: 401,
    domain.Conflict: 409,
    domain.RateLimited: 429,
}


def problem(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Build a problem+json response."""
    body: dict[str, Any] = {
        "type": f"{problem_base()}/problems/{SLUGS[status]}" if status in SLUGS else "about:blank",
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail or TITLES.get(status, "Error"),
    }
    if has_request_context():
        body["instance"] = request.path
        # A refused submission that reported suicidal thoughts still shows where to get help.
        if g.get("crisis_resources") is not None:
            body["crisis_resources"] = g.crisis_resources
    if errors is not None:
        body["errors"] = dict(errors)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested messages into ``{"a.b.0": [...]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = str(key)
            path = name if not prefix else (prefix if name == "_schema" else f"{prefix}.{name}")
            if not prefix and name == "_schema":
                path = "body"
            for sub, msgs in flatten_messages(value, path).items():
                flat.setdefault(sub, []).extend(msgs)
    elif isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            flat[prefix or "body"] = [str(m) for m in messages]
        else:
            for item in messages:
                for sub, msgs in flatten_messages(item, prefix).items():
                    flat.setdefault(sub, []).extend(msgs)
    else:
        flat[prefix or "body"] = [str(messages)]
    return flat


def http_exception_problem(error: HTTPException) -> Response:
    """Map a werkzeug/flask-smorest HTTP error to a problem document."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") if isinstance(data, Mapping) else None
    if status == 422 and messages is not None:
        # flask-smorest keys messages by location ("json", "query"): drop that level.
        errors: dict[str, list[str]] = {}
        if isinstance(messages, Mapping):
            for location_messages in messages.values():
                for path, msgs in flatten_messages(location_messages).items():
                    errors.setdefault(path, []).extend(msgs)
        return problem(422, "One or more fields are invalid.", errors=errors)
    if status == 400:
        return problem(400, "The request body is not valid JSON.")
    if status == 405:
        allowed = ", ".join(getattr(error, "valid_methods", None) or [])
        return problem(
            405,
            f"{request.method} is not allowed here.",
            headers={"Allow": allowed} if allowed else None,
        )
    if status == 413:
        return problem(413, "The request body is larger than this service accepts.")
    if status >= 500:
        return problem(status)
    return problem(status, error.description if status != 404 else "No such resource.")


def domain_problem(error: domain.ServiceError) -> Response:
    """Map a domain error to its status."""
    for cls in type(error).__mro__:
        if cls in STATUS_FOR:
            status = STATUS_FOR[cls]
            break
    else:
        status = 500
    if isinstance(error, domain.Invalid):
        return problem(422, error.detail, errors=error.errors)
    if isinstance(error, domain.RateLimited):
        return problem(429, error.detail, headers={"Retry-After": str(error.retry_after)})
    return problem(status, error.detail, title=error.title)


RETRY_AFTER_SECONDS = 5
# SQLite reports a missing table or column (our bug, not an outage) as OperationalError too.
_SQLITE_BUG_MARKERS = ("no such table", "no such column", "has no column", "syntax error")


def database_unavailable(error: DBAPIError) -> bool:
    """Whether a database error means "unreachable or failing now", not "our query is wrong".

    A connection killed mid-request (PostgreSQL's pg_terminate_backend, a restart, a network
    cut), a refused connection, a locked or unreadable SQLite file: the client should retry.
    """
    if error.connection_invalidated or isinstance(error, InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    message = str(error.orig).lower()
    return not any(marker in message for marker in _SQLITE_BUG_MARKERS)


def unavailable() -> Response:
    """The documented 503: nothing was saved, retry after a few seconds."""
    return problem(
        503,
        "The database is unavailable; nothing was saved. Try again.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def register_errorhandlers(app: Flask) -> None:
    """Every error leaves as problem+json: no HTML page, no stack trace."""

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        return http_exception_problem(error)

    @app.errorhandler(domain.ServiceError)
    def _domain(error: domain.ServiceError) -> Response:
        if error.keep_changes:
            # What the refused request recorded (a failed attempt, a screening) is kept.
            g.keep_changes = True
        return domain_problem(error)

    @app.errorhandler(InvalidInput)
    def _clinical(error: InvalidInput) -> Response:
        return problem(422, "One or more fields are invalid.", errors=error.errors)

    @app.errorhandler(IntegrityError)
    def _constraint(error: IntegrityError) -> Response:
        # A unique key taken by a concurrent request between our check and our flush.
        log.warning("a constraint refused %s %s", request.method, request.path, exc_info=True)
        return problem(409, "The change conflicts with the current state; nothing was saved.")

    @app.errorhandler(DBAPIError)
    def _database(error: DBAPIError) -> Response:
        if database_unavailable(error):
            log.warning("database unavailable on %s %s", request.method, request.path)
            return unavailable()
        log.exception("database error on %s %s", request.method, request.path)
        return problem(500, "Something went wrong on our side; it has been logged.")

    @app.errorhandler(PoolTimeout)
    def _pool_exhausted(_error: PoolTimeout) -> Response:
        log.warning("no database connection free on %s %s", request.method, request.path)
        return unavailable()

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "Something went wrong on our side; it has been logged.")
