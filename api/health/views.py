"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from flask import json
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from api.errors import problem
from api.extensions import runtime
from services.escalations import unreachable_clinics

blp = Blueprint("health", __name__, description="Liveness and readiness probes.")


class HealthOut(Schema):
    status = fields.String(required=True)


@blp.get("/healthz")
@blp.response(200, HealthOut)
def healthz() -> dict[str, Any]:
    """200 while the process is up."""
    return {"status": "ok"}


@blp.get("/readyz")
@blp.response(200, HealthOut)
@blp.alt_response(
    503,
    description="The database does not answer, or an open escalation has nobody who can "
    'be paged (`checks.paging` = `"unreachable"`).',
)
def readyz() -> Any:
    """200 only when the database answers and every open escalation can page someone."""
    rt = runtime()
    if not rt.database.ping():
        return problem(503, "The database does not answer.", headers={"Retry-After": "5"})
    paging = _paging_check()
    if paging != "ok":
        response = problem(
            503,
            "An open escalation has nobody who can be paged: every clinician on its chain "
            "opted out of SMS or has no phone.",
            headers={"Retry-After": "30"},
        )
        body = json.loads(response.get_data())
        body["checks"] = {"paging": paging}
        response.set_data(json.dumps(body))
        return response
    return {"status": "ready"}


def _paging_check() -> str:
    """The paging check: unreachable while an open escalation has nobody who can be paged."""
    with runtime().database.unit_of_work() as session:
        return "unreachable" if unreachable_clinics(session) else "ok"
