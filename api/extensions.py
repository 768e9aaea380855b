"""Flask extensions and the request's unit of work."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, g
from flask_jwt_extended import JWTManager
from flask_smorest import Api
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from api.errors import http_exception_problem, problem
from services.runtime import Runtime

log = logging.getLogger("tandem.api")

EXTENSION_KEY = "tandem"


class TandemApi(Api):  # type: ignore[misc]
    """flask-smorest's Api, answering its HTTP errors with problem documents."""

    def handle_http_exception(self, error: HTTPException) -> Response:
        return http_exception_problem(error)


jwt = JWTManager()


def runtime() -> Runtime:
    """The runtime of the current app."""
    rt: Runtime = current_app.extensions[EXTENSION_KEY]
    return rt


def db() -> Session:
    """The request's session; committed once at the end of a successful request."""
    session: Session | None = g.get("db_session")
    if session is None:
        session = runtime().database.session()
        g.db_session = session
    return session


def register_unit_of_work(app: Flask) -> None:
    """One commit or rollback per request, at the edge."""

    @app.after_request
    def _finish(response: Response) -> Response:
        session: Session | None = g.pop("db_session", None)
        if session is None:
            return response
        try:
            if response.status_code < 400 or g.get("keep_changes"):
                session.commit()
            else:
                session.rollback()
        except IntegrityError:
            session.rollback()
            log.warning("commit refused by a constraint", exc_info=True)
            return problem(409, "The change conflicts with the current state; nothing was saved.")
        except OperationalError:
            session.rollback()
            log.exception("commit failed")
            return problem(503, "The database is unavailable; nothing was saved. Try again.",
                           headers={"Retry-After": "5"})
        finally:
            session.close()
        return response

    @app.teardown_request
    def _discard(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()


def init_extensions(app: Flask, rt: Runtime) -> TandemApi:
    """Attach the runtime and the extensions to ``app``; returns its OpenAPI registry."""
    app.extensions[EXTENSION_KEY] = rt
    jwt.init_app(app)
    return TandemApi(app)
