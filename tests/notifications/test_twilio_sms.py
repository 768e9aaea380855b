"""TwilioSmsSender against a local HTTP server: the exact request the real SDK sends, and errors."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from notifications.sms import SendResult, SmsError, SmsSender
from notifications.twilio_sms import (
    TwilioSmsSender,
    compute_twilio_signature,
    messaging_response,
    rewrite_twilio_url,
    twilio_signature_valid,
)

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-auth-token-for-tests"
SERVICE_SID = "MG" + "fedcba9876543210" * 2
FROM_NUMBER = "+15550100"
TO_NUMBER = "+15550123"
CALLBACK = "https://tandem.example.org/webhooks/twilio/status"
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
MESSAGE_SID = "SM" + "00112233445566778899aabbccddeeff"


def created(**overrides: Any) -> dict[str, Any]:
    """A trimmed 201 body as Twilio returns it for a new message."""
    return {
        "account_sid": ACCOUNT_SID,
        "sid": MESSAGE_SID,
        "status": "queued",
        "to": TO_NUMBER,
        "from": FROM_NUMBER,
        "body": "hello",
        **overrides,
    }


def twilio_error(code: int, status: int, message: str) -> dict[str, Any]:
    """Twilio's (legacy) error body."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@pytest.fixture
def sender(httpserver: HTTPServer) -> Iterator[TwilioSmsSender]:
    with TwilioSmsSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        api_base_url=httpserver.url_for("/"),
        timeout=5.0,
    ) as sender:
        yield sender


def sent_form(httpserver: HTTPServer) -> dict[str, list[str]]:
    """The form body of the one request the server received."""
    assert len(httpserver.log) == 1
    request = httpserver.log[0][0]
    return parse_qs(request.get_data(as_text=True), keep_blank_values=True, strict_parsing=True)


def send_expecting_error(sender: TwilioSmsSender) -> SmsError:
    with pytest.raises(SmsError) as caught:
        sender.send(to=TO_NUMBER, body="hello", status_callback=CALLBACK)
    return caught.value


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the request -------------------------------------------------------------------------


def test_implements_the_port(sender: TwilioSmsSender) -> None:
    port: SmsSender = sender
    assert callable(port.send)


def test_sends_to_from_body_and_status_callback_with_basic_auth(
    httpserver: HTTPServer, sender: TwilioSmsSender
) -> None:
    httpserver.expect_oneshot_request(MESSAGES_PATH, method="POST").respond_with_json(
        created(), status=201
    )

    result = sender.send(to=TO_NUMBER, body="Check-in due ✓ & café", status_callback=CALLBACK)

    assert result == SendResult(sid=MESSAGE_SID, status="queued")
    assert sent_form(httpserver) == {
        "To": [TO_NUMBER],
        "From": [FROM_NUMBER],
        "Body": ["Check-in due ✓ & café"],
        "StatusCallback": [CALLBACK],
    }
    request = httpserver.log[0][0]
    credentials = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {credentials}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Accept"] == "application/json"


def test_messaging_service_replaces_from_and_no_callback_is_left_out(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_oneshot_request(MESSAGES_PATH, method="POST").respond_with_json(
        created(status="accepted"), status=201
    )
    with TwilioSmsSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        messaging_service_sid=SERVICE_SID,
        api_base_url=httpserver.url_for("/"),
    ) as sender:
        result = sender.send(to=TO_NUMBER, body="hello")

    assert result == SendResult(sid=MESSAGE_SID, status="accepted")
    assert sent_form(httpserver) == {
        "To": [TO_NUMBER],
        "MessagingServiceSid": [SERVICE_SID],
        "Body": ["hello"],
    }


def test_needs_a_sender_identity() -> None:
    with pytest.raises(ValueError, match="from_number or messaging_service_sid"):
        TwilioSmsSender(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)


def test_region_and_edge_hosts_are_rewritten_too(httpserver: HTTPServer) -> None:
    # With a region and an edge the SDK targets api.dublin.ie1.twilio.com; the stand-in
    # must still receive the request.
    httpserver.expect_oneshot_request(MESSAGES_PATH, method="POST").respond_with_json(
        created(), status=201
    )
    with TwilioSmsSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        api_base_url=httpserver.url_for("/"),
        region="ie1",
        edge="dublin",
    ) as sender:
        assert sender.send(to=TO_NUMBER, body="hello").sid == MESSAGE_SID
    assert sent_form(httpserver)["To"] == [TO_NUMBER]


def test_region_from_the_environment_is_ignored(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The SDK would read TWILIO_REGION itself; only config/ may read the environment.
    monkeypatch.setenv("TWILIO_REGION", "au1")
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    with TwilioSmsSender(
        account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number=FROM_NUMBER
    ) as sender:
        client = sender._client  # the SDK object is the point of this test
        url = client.get_hostname("https://api.twilio.com/2010-04-01/Accounts.json")
    assert url == "https://api.twilio.com/2010-04-01/Accounts.json"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            f"https://api.twilio.com{MESSAGES_PATH}",
            f"http://127.0.0.1:4010{MESSAGES_PATH}",
        ),
        (
            f"https://api.dublin.ie1.twilio.com{MESSAGES_PATH}",
            f"http://127.0.0.1:4010{MESSAGES_PATH}",
        ),
        (
            "https://api.ie1.twilio.com/2010-04-01/Accounts.json?PageSize=5",
            "http://127.0.0.1:4010/2010-04-01/Accounts.json?PageSize=5",
        ),
        (
            "https://messaging.twilio.com/v1/Services",
            "http://127.0.0.1:4010/v1/Services",
        ),
        ("https://API.Twilio.COM:443/x", "http://127.0.0.1:4010/x"),
        ("https://api.twilio.com", "http://127.0.0.1:4010"),
        # Not Twilio: left alone.
        ("https://api.twilio.com.example.org/x", "https://api.twilio.com.example.org/x"),
        ("https://example.org/api.twilio.com/x", "https://example.org/api.twilio.com/x"),
        ("https://nottwilio.com/x", "https://nottwilio.com/x"),
    ],
)
def test_rewrites_any_twilio_host(url: str, expected: str) -> None:
    assert rewrite_twilio_url(url, api_base_url="http://127.0.0.1:4010/") == expected


def test_keeps_a_path_prefix_of_the_base_url() -> None:
    rewritten = rewrite_twilio_url(
        "https://api.twilio.com/2010-04-01/x.json?a=1", api_base_url="http://stub:8080/twilio"
    )
    assert rewritten == "http://stub:8080/twilio/2010-04-01/x.json?a=1"


@pytest.mark.parametrize(
    "url",
    [f"https://api.twilio.com{MESSAGES_PATH}", "https://api.dublin.ie1.twilio.com/v1/x?y=1"],
)
def test_no_rewrite_without_a_base_url(url: str) -> None:
    assert rewrite_twilio_url(url, api_base_url=None) == url


# --- errors ------------------------------------------------------------------------------


def test_429_is_retryable_with_retry_after_seconds(
    httpserver: HTTPServer, sender: TwilioSmsSender
) -> None:
    httpserver.expect_oneshot_request(MESSAGES_PATH, method="POST").respond_with_json(
        twilio_error(20429, 429, "Too Many Requests"), status=429, headers={"Retry-After": "7"}
    )
    error = send_expecting_error(sender)
    assert (error.retryable, error.code, error.http_status, error.retry_after) == (
        True,
        20429,
        429,
        7.0,
    )


def test_retry_after_as_an_http_date(httpserver: HTTPServer, sender: TwilioSmsSender) -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    httpserver.expect_oneshot_request(MESSAGES_PATH, method="POST").respond_with_json(
        twilio_error(20429, 429, "Too Many Requests"),
        status=429,
        headers={"Retry-After": format_datetime(when, usegmt=True)},
    )
    error = send_expecting_error(sender)
    assert error.retryable
    assert error.retry_after is not None
    assert 100 <= error.retry_after <= 121


def test_429_without_retry_after(httpserver: HTTPServer, sender: TwilioSmsSender) -> None:
    httpserver.expect_oneshot_request(MESSAGES_PATH, method="POST").respond_with_data(
        "slow down", status=429
    )
    error = send_expecting_error(sender)
    assert (error.retryable, error.code, error.http_status, error.retry_after) == (
        True,
        None,
        429,
        None,
    )


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_with_a_twilio_body_are_retryable(
    httpserver: HTTPServer, sender: TwilioSmsSender, status: int
) -> None:
    httpserver.expect_oneshot_request(MESSAGES_PATH, method="POST").respond_with_json(
        twilio_error(20500, status, "Internal Server Error"), status=status
    )
    error = send_expecting_error(sender)
    assert (error.retryable, error.code, error.http_status) == (True, 20500, status)


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_without_a_json_body_are_retryable(
    httpserver: HTTPServer, sender: TwilioSmsSender, status: int
) -> None:
    # A proxy's HTML page: the SDK then reports the HTTP status as the "code".
    httpserver.expect_oneshot_request(MESSAGES_PATH, method="POST").respond_with_data(
        "<html>Service Unavailable</html>", status=status, content_type="text/html"
    )
    error = send_expecting_error(sender)
    assert (error.retryable, error.code, error.http_status) == (True, None, status)


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [
        (21610, 400, "Attempt to send to unsubscribed recipient"),
        (21211, 400, "The 'To' number +15550123 is not a valid phone number."),
        (21614, 400, "'To' number is not a valid mobile number"),
        (21408, 400, "Permission to send an SMS has not been enabled for the region"),
        (20003, 401, "Authenticate"),
        (20404, 404, "The requested resource was not found"),
    ],
)
def test_client_errors_are_permanent(
    httpserver: HTTPServer, sender: TwilioSmsSender, code: int, status: int, message: str
) -> None:
    httpserver.expect_oneshot_request(MESSAGES_PATH, method="POST").respond_with_json(
        twilio_error(code, status, message), status=status, headers={"Retry-After": "5"}
    )
    error = send_expecting_error(sender)
    assert (error.retryable, error.code, error.http_status, error.retry_after) == (
        False,
        code,
        status,
        None,
    )
    assert message in str(error)


@pytest.mark.parametrize(("status", "retryable"), [(503, True), (400, False)])
def test_problem_details_errors_are_classified_like_the_rest(
    httpserver: HTTPServer, sender: TwilioSmsSender, status: int, retryable: bool
) -> None:
    # An RFC 9457 body makes the SDK raise TwilioServiceException instead.
    httpserver.expect_oneshot_request(MESSAGES_PATH, method="POST").respond_with_json(
        {
            "type": "https://www.twilio.com/docs/errors/20001",
            "title": "Something is off",
            "status": status,
            "code": 20001,
            "detail": "details here",
        },
        status=status,
    )
    error = send_expecting_error(sender)
    assert (error.retryable, error.code, error.http_status) == (retryable, 20001, status)
    assert "Something is off: details here" in str(error)


def test_connection_refused_is_retryable() -> None:
    with TwilioSmsSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        api_base_url=f"http://127.0.0.1:{closed_port()}",
    ) as sender:
        error = send_expecting_error(sender)
    assert (error.retryable, error.code, error.http_status) == (True, None, None)
    assert "unreachable" in str(error)


def test_timeout_is_retryable(httpserver: HTTPServer) -> None:
    def slow(request: Request) -> Response:
        time.sleep(0.3)
        return Response("{}", status=201, content_type="application/json")

    httpserver.expect_oneshot_request(MESSAGES_PATH, method="POST").respond_with_handler(slow)
    with TwilioSmsSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        api_base_url=httpserver.url_for("/"),
        timeout=0.1,
    ) as sender:
        started = time.monotonic()
        error = send_expecting_error(sender)
        elapsed = time.monotonic() - started
    assert error.retryable
    assert "Timeout" in str(error)
    # Gave up at the timeout, without retrying on its own.
    assert elapsed < 0.5


def test_a_garbled_success_body_is_a_permanent_error(
    httpserver: HTTPServer, sender: TwilioSmsSender
) -> None:
    # Twilio may well have taken the message; resending could text the patient twice.
    httpserver.expect_oneshot_request(MESSAGES_PATH, method="POST").respond_with_data(
        "not json", status=201
    )
    error = send_expecting_error(sender)
    assert not error.retryable
    assert error.http_status is None


def test_a_success_without_sid_is_a_permanent_error(
    httpserver: HTTPServer, sender: TwilioSmsSender
) -> None:
    httpserver.expect_oneshot_request(MESSAGES_PATH, method="POST").respond_with_json(
        created(sid=None), status=201
    )
    error = send_expecting_error(sender)
    assert not error.retryable
    assert "no SID" in str(error)


def test_does_not_retry_by_itself(httpserver: HTTPServer, sender: TwilioSmsSender) -> None:
    httpserver.expect_request(MESSAGES_PATH, method="POST").respond_with_json(
        twilio_error(20500, 503, "Service Unavailable"), status=503
    )
    send_expecting_error(sender)
    assert len(httpserver.log) == 1


# --- webhook helpers ---------------------------------------------------------------------

WEBHOOK_URL = "https://tandem.example.org/webhooks/twilio/sms?clinic=7"
WEBHOOK_FORM = {"From": TO_NUMBER, "To": FROM_NUMBER, "Body": "ACK 42", "MessageSid": MESSAGE_SID}


def test_a_signature_we_compute_is_valid() -> None:
    signature = compute_twilio_signature(
        auth_token=AUTH_TOKEN, url=WEBHOOK_URL, params=WEBHOOK_FORM
    )
    assert twilio_signature_valid(
        auth_token=AUTH_TOKEN, url=WEBHOOK_URL, params=WEBHOOK_FORM, signature=signature
    )


@pytest.mark.parametrize(
    ("token", "url", "form"),
    [
        ("another-token", WEBHOOK_URL, WEBHOOK_FORM),
        (AUTH_TOKEN, WEBHOOK_URL.replace("https://", "http://"), WEBHOOK_FORM),
        (AUTH_TOKEN, WEBHOOK_URL.replace("clinic=7", "clinic=8"), WEBHOOK_FORM),
        (AUTH_TOKEN, WEBHOOK_URL, {**WEBHOOK_FORM, "Body": "ACK 43"}),
        (AUTH_TOKEN, WEBHOOK_URL, {**WEBHOOK_FORM, "Extra": "x"}),
    ],
    ids=["wrong-token", "other-scheme", "other-query", "tampered-body", "added-field"],
)
def test_a_forged_signature_is_rejected(token: str, url: str, form: dict[str, str]) -> None:
    signature = compute_twilio_signature(
        auth_token=AUTH_TOKEN, url=WEBHOOK_URL, params=WEBHOOK_FORM
    )
    assert not twilio_signature_valid(auth_token=token, url=url, params=form, signature=signature)


@pytest.mark.parametrize("signature", [None, "", "bm90IGEgc2lnbmF0dXJl"])
def test_a_missing_or_junk_signature_is_rejected(signature: str | None) -> None:
    assert not twilio_signature_valid(
        auth_token=AUTH_TOKEN, url=WEBHOOK_URL, params=WEBHOOK_FORM, signature=signature
    )


def test_messaging_response_wraps_the_text_in_twiml() -> None:
    xml = messaging_response("Thanks <3 & see you")
    assert xml == (
        '<?xml version="1.0" encoding="UTF-8"?>'
        "<Response><Message>Thanks &lt;3 &amp; see you</Message></Response>"
    )


@pytest.mark.parametrize("text", [None, ""])
def test_messaging_response_without_text_is_empty(text: str | None) -> None:
    assert messaging_response(text) == '<?xml version="1.0" encoding="UTF-8"?><Response />'
