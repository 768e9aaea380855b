"""Twilio webhooks: inbound SMS and delivery status callbacks, both signed by Twilio."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from api.extensions import db, runtime
from api.webhooks.signing import TWIML, twilio_webhook
from services import sms_inbound

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/webhooks/twilio",
    description="Called by Twilio (form-encoded, X-Twilio-Signature checked).",
)


@blp.route("/sms")
class InboundSms(MethodView):
    @twilio_webhook(blp)
    def post(self, params: dict[str, str]) -> Response:
        """An SMS to our number: ACK <id>, STOP/START/HELP; the reply is TwiML."""
        result = sms_inbound.handle_inbound_sms(
            db(),
            from_number=params.get("From", ""),
            body=params.get("Body", ""),
            now=runtime().clock.now(),
        )
        return Response(sms_inbound.twiml(result.reply), status=200, mimetype=TWIML)


@blp.route("/status")
class StatusCallback(MethodView):
    @twilio_webhook(blp)
    def post(self, params: dict[str, str]) -> Response:
        """A delivery report for a message we sent."""
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
