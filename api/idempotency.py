"""The Idempotency-Key header on creating POSTs."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, g, json, request
from flask_jwt_extended import verify_jwt_in_request

from api.errors import PROBLEM_JSON, domain_problem
from api.extensions import db, runtime
from api.security import the_user
from services import idempotency
from services.errors import ServiceError

HEADER = "Idempotency-Key"


def _canonical_body() -> bytes:
    """The body as canonical JSON, so spacing and key order do not make it "different"."""
    raw = request.get_data(cache=True)
    try:
        return json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        return raw


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Replay the stored answer for a repeated key; 409 for the same key, another body."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        verify_jwt_in_request()
        claim = idempotency.begin(
            db(),
            user_id=the_user().id,
            key=key,
            method=request.method,
            path=request.path,
            request_hash=idempotency.fingerprint(request.method, request.path, _canonical_body()),
            now=runtime().clock.now(),
        )
        if isinstance(claim, idempotency.Replay):
            replay = Response(
                json.dumps(claim.body),
                status=claim.status,
                mimetype=PROBLEM_JSON if claim.status >= 400 else "application/json",
            )
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
        try:
            response = view(*args, **kwargs)
        except ServiceError as error:
            if not error.keep_changes:
                raise
            # A refusal that is committed with what it recorded (an ineligible screening)
            # commits the claim too, so it must be answered: a retry replays the refusal
            # instead of hearing "still being processed" for 7 days.
            g.keep_changes = True
            refusal = domain_problem(error)
            idempotency.finish(
                claim, status=refusal.status_code, body=json.loads(refusal.get_data())
            )
            return refusal
        if isinstance(response, Response) and response.status_code < 400:
            idempotency.finish(
                claim, status=response.status_code, body=response.get_json(silent=True)
            )
        return response

    doc = dict(getattr(wrapper, "_apidoc", {}))
    manual = dict(doc.get("manual_doc", {}))
    manual["parameters"] = [
        *manual.get("parameters", []),
        {
            "in": "header",
            "name": HEADER,
            "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": 128},
            "description": "Repeat a create safely: the same key and body replay the first "
            "answer; the same key with another body is 409. Kept 7 days.",
        },
    ]
    doc["manual_doc"] = manual
    wrapper._apidoc = doc  # type: ignore[attr-defined]
    return wrapper
