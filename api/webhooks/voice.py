"""Twilio voice webhooks: the TwiML of a voice page, and call status callbacks (issue 13)."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from api.extensions import db, runtime
from api.webhooks.signing import TWIML, signed_url, twilio_webhook
from services import oncall

blp = Blueprint(
    "voice_webhooks",
    __name__,
    url_prefix="/webhooks/twilio",
    description="Called by Twilio for voice pages (form-encoded, X-Twilio-Signature checked).",
)


@blp.route("/voice")
class VoiceTwiml(MethodView):
    @twilio_webhook(blp)
    def post(self, params: dict[str, str]) -> Response:
        """What a voice page says: press 1 to acknowledge; any other key acknowledges nothing."""
        turn = oncall.handle_call(
            db(),
            call_sid=params.get("CallSid", ""),
            digits=params.get("Digits") or None,
            now=runtime().clock.now(),
        )
        # The key pressed comes back to this same URL (the one Twilio signed).
        action = signed_url().split("?", 1)[0]
        return Response(oncall.twiml(turn, action=action), status=200, mimetype=TWIML)


@blp.route("/voice/status")
class VoiceStatus(MethodView):
    @twilio_webhook(blp)
    def post(self, params: dict[str, str]) -> Response:
        """A call's final status: busy, no-answer or failed moves the chain on."""
        sid, status = params.get("CallSid", ""), params.get("CallStatus", "")
        if sid and status:
            oncall.record_call_status(db(), call_sid=sid, status=status, now=runtime().clock.now())
        return Response(oncall.empty_twiml(), status=200, mimetype=TWIML)
