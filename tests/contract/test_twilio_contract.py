"""The real Twilio SDK, through TwilioSmsSender, against Prism serving Twilio's own OpenAPI spec."""

from __future__ import annotations

import json

import pytest
import requests

from notifications.sms import SmsError
from notifications.twilio_sms import TwilioSmsSender
from tests.support.prism import RETRY_AFTER_SECONDS

pytestmark = pytest.mark.prism

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-auth-token-for-tests"
SERVICE_SID = "MG" + "fedcba9876543210" * 2
FROM_NUMBER = "+15550100"
TO_NUMBER = "+15550123"
CALLBACK = "https://tandem.example.org/webhooks/twilio/status"


def make_sender(
    prism_url: str,
    *,
    account_sid: str = ACCOUNT_SID,
    from_number: str | None = FROM_NUMBER,
    messaging_service_sid: str | None = None,
    prefer: str | None = None,
) -> TwilioSmsSender:
    """A sender aimed at Prism; `prefer` picks one of the spec's responses (Prism's Prefer)."""
    return TwilioSmsSender(
        account_sid=account_sid,
        auth_token=AUTH_TOKEN,
        from_number=from_number,
        messaging_service_sid=messaging_service_sid,
        api_base_url=prism_url,
        timeout=10.0,
        extra_headers={"Prefer": prefer} if prefer else None,
    )


def send_expecting_error(sender: TwilioSmsSender) -> SmsError:
    with sender, pytest.raises(SmsError) as caught:
        sender.send(to=TO_NUMBER, body="hello", status_callback=CALLBACK)
    return caught.value


def test_a_valid_send_is_queued(prism_url: str) -> None:
    with make_sender(prism_url) as sender:
        result = sender.send(to=TO_NUMBER, body="Your check-in is due.", status_callback=CALLBACK)
    assert result.sid.startswith("SM")
    assert len(result.sid) == 34
    assert result.status == "queued"


def test_a_send_through_a_messaging_service_is_queued(prism_url: str) -> None:
    with make_sender(prism_url, from_number=None, messaging_service_sid=SERVICE_SID) as sender:
        result = sender.send(to=TO_NUMBER, body="hello")
    assert result.status == "queued"


def test_a_regional_client_still_matches_the_contract(prism_url: str) -> None:
    with TwilioSmsSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        api_base_url=prism_url,
        region="ie1",
        edge="dublin",
    ) as sender:
        assert sender.send(to=TO_NUMBER, body="hello").status == "queued"


def test_a_malformed_account_sid_is_rejected_as_permanent(prism_url: str) -> None:
    error = send_expecting_error(make_sender(prism_url, account_sid="AC123"))
    assert not error.retryable
    assert error.http_status == 422


def test_prism_rejects_the_malformed_sid_for_the_right_reason(prism_url: str) -> None:
    # The same request by hand, to read Prism's verdict: the AccountSid pattern, nothing else.
    response = requests.post(
        f"{prism_url}/2010-04-01/Accounts/AC123/Messages.json",
        data={"To": TO_NUMBER, "From": FROM_NUMBER, "Body": "hello"},
        auth=("AC123", AUTH_TOKEN),
        timeout=10,
    )
    assert response.status_code == 422
    violations = json.loads(response.headers["sl-violations"])
    assert {tuple(v["location"]) for v in violations} == {("request", "path", "accountsid")}


def test_an_invalid_status_callback_is_rejected(prism_url: str) -> None:
    # Twilio's schema requires a URI; this is the kind of mistake only the contract catches.
    with make_sender(prism_url) as sender, pytest.raises(SmsError) as caught:
        sender.send(to=TO_NUMBER, body="hello", status_callback="not a url")
    assert (caught.value.retryable, caught.value.http_status) == (False, 422)


@pytest.mark.parametrize(
    ("prefer", "code", "http_status", "retryable"),
    [
        ("code=400, example=unsubscribed", 21610, 400, False),
        ("code=400, example=invalid_number", 21211, 400, False),
        ("code=429, example=too_many", 20429, 429, True),
        ("code=500, example=server_error", 20500, 500, True),
    ],
)
def test_twilio_errors_are_classified(
    prism_url: str, prefer: str, code: int, http_status: int, retryable: bool
) -> None:
    error = send_expecting_error(make_sender(prism_url, prefer=prefer))
    assert (error.code, error.http_status, error.retryable) == (code, http_status, retryable)


def test_a_429_carries_retry_after(prism_url: str) -> None:
    error = send_expecting_error(make_sender(prism_url, prefer="code=429, example=too_many"))
    assert error.retry_after == RETRY_AFTER_SECONDS
