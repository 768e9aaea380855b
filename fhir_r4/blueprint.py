"""The FHIR door's blueprint and how it answers: application/fhir+json after fhir.resources has
validated the resource, and OperationOutcomes for errors."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, request

from api.extensions import runtime
from fhir_r4 import search
from fhir_r4.resources import server, vocabulary

bp = Blueprint("fhir", __name__, url_prefix="/fhir/R4")
PREFIX = "/fhir/"


def base_url() -> str:
    return request.url_root.rstrip("/") + "/fhir/R4"


def fhir_response(resource: dict[str, Any], status: int = 200) -> Response:
    """The resource, validated by fhir.resources, as application/fhir+json."""
    body = server.validated(resource)
    return Response(json.dumps(body), status=status, mimetype=vocabulary.FHIR_JSON)


def outcome(status: int, detail: str) -> Response:
    body = server.validated(server.operation_outcome(status, detail))
    return Response(json.dumps(body), status=status, mimetype=vocabulary.FHIR_JSON)


@bp.errorhandler(search.SearchError)
def _bad_search(error: search.SearchError) -> Response:
    return outcome(error.status, error.detail)


def clock_now() -> Any:
    return runtime().clock.now()
