"""Voice pages (issue 13): the real Twilio SDK's Calls API, through TwilioSmsSender.call and the
outbox's voice channel, against Prism serving Twilio's own OpenAPI spec."""

from __future__ import annotations

import pytest

from notifications.sms import SmsError
from notifications.twilio_sms import TwilioSmsSender, TwilioVoiceSender

pytestmark = pytest.mark.prism

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
FROM_NUMBER = "+15550100"
TO_NUMBER = "+15550123"
BASE = "https://tandem.example.org"


def sender(prism_url: str) -> TwilioSmsSender:
    return TwilioSmsSender(
        account_sid=ACCOUNT_SID,
        auth_token="fake-auth-token-for-tests",
        from_number=FROM_NUMBER,
        api_base_url=prism_url,
        timeout=10.0,
    )


def test_a_voice_page_is_a_queued_call(prism_url: str) -> None:
    with sender(prism_url) as sms:
        voice = TwilioVoiceSender(
            sms,
            twiml_url=f"{BASE}/webhooks/twilio/voice",
            status_callback=f"{BASE}/webhooks/twilio/voice/status",
        )
        result = voice.send(to=TO_NUMBER, body="ignored: Twilio fetches the words")
    assert result.sid.startswith("CA") and len(result.sid) == 34
    assert result.status


def test_a_call_breaking_the_schema_is_permanent(prism_url: str) -> None:
    with sender(prism_url) as sms, pytest.raises(SmsError) as caught:
        sms.call(to=TO_NUMBER, twiml_url="not a url", status_callback=None)
    assert not caught.value.retryable
    assert caught.value.http_status is not None and 400 <= caught.value.http_status < 500
