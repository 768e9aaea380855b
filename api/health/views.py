"""Liveness and readiness."""

from __future__ import annotations

import json
from typing import Any

from flask import Response
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from api.errors import problem
from api.extensions import runtime
from services.operations import Readiness, readiness

blp = Blueprint("health", __name__, description="Liveness and readiness probes.")


class HealthOut(Schema):
    """The process is up."""

    status = fields.String(required=True)


class ReadyOut(Schema):
    """Readiness: each check's state (database, scheduler, outbox)."""

    status = fields.String(required=True, metadata={"example": "ready"})
    checks = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={
            "description": 'Each named check\'s state: "database" and "outbox" are "ok"; '
            '"scheduler" is "ok" (a scheduler leads the timers) or "takeover" (an API '
            "process leads: paging goes on, restart the scheduler)."
        },
    )


@blp.get("/healthz")
@blp.response(200, HealthOut)
def healthz() -> dict[str, Any]:
    """200 while the process is up."""
    return {"status": "ok"}


@blp.get("/readyz")
@blp.response(200, ReadyOut)
@blp.alt_response(
    503,
    description="A check fails: the database, the scheduler (no timer leader's heartbeat "
    "for 60 s) or the outbox (the oldest due message waited over 120 s).",
)
def readyz() -> Any:
    """200 when every check passes; a takeover is reported, not failed."""
    state = readiness(runtime())
    if not state.ready:
        return not_ready(state)
    return {"status": "ready", "checks": state.checks}


def not_ready(state: Readiness) -> Response:
    """The 503 problem document naming the failing checks (and every check's state)."""
    response = problem(
        503,
        "Not ready: " + ", ".join(f"{name} is {state.checks[name]}" for name in state.failing),
        headers={"Retry-After": "5"},
    )
    body = json.loads(response.get_data())
    body["failing"] = state.failing
    body["checks"] = state.checks
    response.set_data(json.dumps(body))
    return response
