"""Twilio webhooks: inbound SMS and delivery status callbacks, both signed by Twilio."""

from __future__ import annotations

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from api.errors import problem
from api.extensions import db, runtime
from services import sms_inbound

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/webhooks/twilio",
    description="Called by Twilio (form-encoded, X-Twilio-Signature checked).",
)

TWIML = "application/xml"


def _signed_url() -> str:
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
        url=_signed_url(),
        params=params,
        signature=request.headers.get("X-Twilio-Signature"),
    )
    return params if ok else None


def _forbidden() -> Response:
    return problem(403, "The request does not carry a valid Twilio signature.")


@blp.route("/sms")
class InboundSms(MethodView):
    @blp.response(200, content_type=TWIML)
    @blp.alt_response(403, description="Missing or invalid X-Twilio-Signature.")
    def post(self) -> Response:
        """An SMS to our number: ACK <id>, STOP/START/HELP; the reply is TwiML."""
        params = _verified()
        if params is None:
            return _forbidden()
        result = sms_inbound.handle_inbound_sms(
            db(),
            from_number=params.get("From", ""),
            body=params.get("Body", ""),
            now=runtime().clock.now(),
        )
        return Response(sms_inbound.twiml(result.reply), status=200, mimetype=TWIML)


@blp.route("/status")
class StatusCallback(MethodView):
    @blp.response(200, content_type=TWIML)
    @blp.alt_response(403, description="Missing or invalid X-Twilio-Signature.")
    def post(self) -> Response:
        """A delivery report for a message we sent."""
        params = _verified()
        if params is None:
            return _forbidden()
        code = params.get("ErrorCode", "")
        sid = params.get("MessageSid") or params.get("SmsSid") or ""
        status = params.get("MessageStatus") or params.get("SmsStatus") or ""
        if sid and status:
            sms_inbound.handle_status_callback(
                db(),
                message_sid=sid,
                status=status,
                error_code=int(code)
                if code.isascii() and code.isdigit() and len(code) <= 9
                else None,
                now=runtime().clock.now(),
            )
        return Response(sms_inbound.twiml(None), status=200, mimetype=TWIML)
