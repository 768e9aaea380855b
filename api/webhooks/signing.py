"""Twilio's request signature: the URL it signed, the check, and the decorator of every webhook."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, request
from flask_smorest import Blueprint

from api.errors import problem
from api.extensions import runtime
from services import sms_inbound

TWIML = "application/xml"
# A webhook's POST: the view, then the form fields Twilio signed.
Handler = Callable[[Any, dict[str, str]], Response]


def signed_url() -> str:
    """The URL Twilio called: rebuilt from PUBLIC_BASE_URL behind a proxy."""
    base = runtime().settings.public_base_url
    if not base:
        return request.url
    query = request.query_string.decode("latin-1")
    return base.rstrip("/") + request.path + (f"?{query}" if query else "")


def _verified() -> dict[str, str] | None:
    """The form fields when the request is Twilio's, else None."""
    params = {key: request.form.get(key, "") for key in request.form}
    ok = sms_inbound.twilio_request_valid(
        auth_token=runtime().settings.twilio_auth_token,
        url=signed_url(),
        params=params,
        signature=request.headers.get("X-Twilio-Signature"),
    )
    return params if ok else None


def twilio_webhook(blp: Blueprint) -> Callable[[Handler], Callable[[Any], Response]]:
    """A POST of ``blp`` answered in TwiML, refused (403) unless Twilio signed it."""

    def decorator(view: Handler) -> Callable[[Any], Response]:
        @wraps(view)
        def checked(self: Any) -> Response:
            params = _verified()
            if params is None:
                return problem(403, "The request does not carry a valid Twilio signature.")
            return view(self, params)

        refusal = blp.alt_response(403, description="Missing or invalid X-Twilio-Signature.")
        documented: Callable[[Any], Response] = blp.response(200, content_type=TWIML)(
            refusal(checked)
        )
        return documented

    return decorator
