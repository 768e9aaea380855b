"""Flask extensions and the request's unit of work."""

from __future__ import annotations

import http
import logging
from typing import Any

from apispec import BasePlugin
from flask import Flask, Response, current_app, g
from flask_jwt_extended import JWTManager
from flask_smorest import Api
from flask_smorest.spec.plugins import integerconverter2paramschema
from flask_smorest.utils import prepare_response
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map

from api.errors import PROBLEM_JSON, http_exception_problem, problem
from api.fields import ID_MAX, ProblemSchema
from api.openapi import OpenApiDocPlugin
from services.runtime import Runtime

log = logging.getLogger("tandem.api")

EXTENSION_KEY = "tandem"


PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
HTTP_METHODS = WRITE_METHODS | {"get", "head", "options", "trace"}


def _problem_statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses the request guards, auth and validation can give this operation."""
    statuses: set[int] = set()
    if operation.get("security"):
        statuses |= {401, 403}
    if "{" in path:
        statuses.add(404)
    parameters = [p for p in operation.get("parameters", []) if isinstance(p, dict)]
    if any(p.get("in") == "query" for p in parameters):
        statuses.add(422)
    if method in WRITE_METHODS and path.startswith("/api/"):
        # Body size and media type are checked before the view; a commit can conflict.
        statuses |= {409, 413, 415}
    if "requestBody" in operation:
        statuses |= {400, 413, 422}
    return statuses


class ProblemResponsesPlugin(BasePlugin):
    """Document every error an operation can give as a problem+json response, in one place."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **_: Any
    ) -> None:
        for method, operation in (operations or {}).items():
            if method not in HTTP_METHODS or not isinstance(operation, dict):
                continue
            responses: dict[Any, Any] = operation.setdefault("responses", {})
            for status in _problem_statuses(path or "", method, operation):
                if status not in responses and str(status) not in responses:
                    responses[str(status)] = http.HTTPStatus(status).name
            # A view's own alt_response(4xx, description=...) leaves out the body: add it.
            for status, response in responses.items():
                if (
                    str(status).isdigit()
                    and int(status) >= 400
                    and isinstance(response, dict)
                    and not response.get("content")
                ):
                    response["content"] = {PROBLEM_JSON: {"schema": dict(PROBLEM_REF)}}
            responses.setdefault("default", "DEFAULT_ERROR")


class TandemApi(Api):  # type: ignore[misc]
    """flask-smorest's Api, answering (and documenting) its HTTP errors as problem documents."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException) -> Response:
        return http_exception_problem(error)

    def _register_responses(self) -> None:
        """Named error responses (UNAUTHORIZED, NOT_FOUND, ...) as application/problem+json."""
        self.spec.components.schema("Problem", schema=ProblemSchema)
        for status in http.HTTPStatus:
            if status < 400:
                continue
            response: dict[str, Any] = {"description": status.phrase, "schema": PROBLEM_REF}
            if status in (429, 503):
                response["headers"] = {
                    "Retry-After": {
                        "description": "Seconds to wait before trying again.",
                        "schema": {"type": "integer"},
                    }
                }
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "Any other error, as a problem document.", "schema": PROBLEM_REF}
        prepare_response(default, self.spec, PROBLEM_JSON)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, default, lazy=True)


jwt = JWTManager()


class IdConverter(IntegerConverter):
    """``<int:…>`` bounded to ids the database can hold.

    A larger number cannot name a record, and passing it on overflows SQLite's INTEGER
    (a 500); bounded, it simply matches no route and is a 404.
    """

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)


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
            return problem(
                503,
                "The database is unavailable; nothing was saved. Try again.",
                headers={"Retry-After": "5"},
            )
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
    # Before any blueprint adds a rule, so every <int:…> in the API is bounded.
    app.url_map.converters["int"] = IdConverter
    jwt.init_app(app)
    api = TandemApi(
        app, spec_kwargs={"extra_plugins": [ProblemResponsesPlugin(), OpenApiDocPlugin()]}
    )
    api.register_converter(IdConverter, integerconverter2paramschema)
    return api
