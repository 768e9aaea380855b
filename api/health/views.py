"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from api.errors import problem
from api.extensions import runtime

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
@blp.alt_response(503, description="The database does not answer.")
def readyz() -> Any:
    """200 only when the database answers."""
    if not runtime().database.ping():
        return problem(503, "The database does not answer.", headers={"Retry-After": "5"})
    return {"status": "ready"}
