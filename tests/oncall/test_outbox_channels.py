"""The outbox's channel seam: each row goes out through its channel's sender, with the same
retries and attempts record; a channel nobody can send fails for good, never as an SMS."""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer

from notifications.log_sms import LogSmsSender
from notifications.outbox import NewSms, enqueue_many
from notifications.sms import SmsError
from notifications.twilio_sms import TwilioSmsSender
from notifications.voice import LogVoiceSender
from services.runtime import Runtime
from tests.escalations.support import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER
from tests.oncall.support import CALLS_PATH, outbox

TO = "+12025550111"


def queue(rt: Runtime, channel: str, **extra: str) -> None:
    with rt.database.unit_of_work() as s:
        enqueue_many(
            s,
            [NewSms(to=TO, body="Tandem: test.", purpose="test", channel=channel, **extra)],
            now=rt.clock.now(),
        )


def test_each_channel_has_its_own_sender(rt: Runtime, sms: LogSmsSender) -> None:
    voice = rt.dispatcher.channels["voice"]
    assert isinstance(voice, LogVoiceSender)
    queue(rt, "voice")
    queue(rt, "sms")
    assert rt.dispatcher.drain().sent == 2
    assert list(voice.calls) == [TO]
    assert [to for to, _ in sms.sent] == [TO]
    assert [(r.channel, r.status) for r in outbox(rt)] == [("voice", "sent"), ("sms", "sent")]


def test_a_channel_without_a_sender_fails_for_good_and_sends_nothing(
    rt: Runtime, sms: LogSmsSender
) -> None:
    queue(rt, "fax")
    stats = rt.dispatcher.drain()
    assert (stats.sent, stats.failed) == (0, 1)
    [row] = outbox(rt)
    assert row.status == "failed" and "no sender configured" in (row.last_error or "")
    assert list(sms.sent) == []


def _sender(httpserver: HTTPServer, **kwargs: str) -> TwilioSmsSender:
    return TwilioSmsSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        api_base_url=httpserver.url_for(""),
        **kwargs,
    )


def test_a_call_through_the_sdk_retries_on_5xx_and_not_on_4xx(httpserver: HTTPServer) -> None:
    error = {"code": 20500, "message": "Internal error", "status": 500, "more_info": "x"}
    httpserver.expect_ordered_request(CALLS_PATH, method="POST").respond_with_data(
        json.dumps(error), status=500, content_type="application/json"
    )
    bad = {"code": 21211, "message": "Invalid 'To'", "status": 400, "more_info": "x"}
    httpserver.expect_ordered_request(CALLS_PATH, method="POST").respond_with_data(
        json.dumps(bad), status=400, content_type="application/json"
    )
    with _sender(httpserver, from_number=FROM_NUMBER) as sender:
        with pytest.raises(SmsError) as server_error:
            sender.call(to=TO, twiml_url="https://t.example.org/v", status_callback=None)
        assert server_error.value.retryable and server_error.value.code == 20500
        with pytest.raises(SmsError) as invalid:
            sender.call(to=TO, twiml_url="https://t.example.org/v", status_callback=None)
        assert not invalid.value.retryable and invalid.value.code == 21211


def test_a_messaging_service_alone_cannot_call(httpserver: HTTPServer) -> None:
    with (
        _sender(httpserver, messaging_service_sid="MG" + "0" * 32) as sender,
        pytest.raises(SmsError) as error,
    ):
        sender.call(to=TO, twiml_url="https://t.example.org/v", status_callback=None)
    assert not error.value.retryable
    assert httpserver.log == []
