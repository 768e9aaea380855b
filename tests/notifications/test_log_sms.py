"""LogSmsSender: the embedded default gateway that only writes to the log."""

from __future__ import annotations

import logging
import re

import pytest

from notifications.log_sms import LogSmsSender, mask_phone_number
from notifications.sms import SmsSender

TO_NUMBER = "+15550123"


def test_logs_masked_recipient_length_and_body(caplog: pytest.LogCaptureFixture) -> None:
    sender = LogSmsSender()
    with caplog.at_level(logging.INFO, logger="tandem.sms"):
        result = sender.send(to=TO_NUMBER, body="Your check-in is due.", status_callback=None)

    [record] = [r for r in caplog.records if r.name == "tandem.sms"]
    text = record.getMessage()
    assert TO_NUMBER not in text
    assert "+****0123" in text
    assert "(21 chars" in text
    assert text.endswith("Your check-in is due.")
    assert result.sid in text


def test_returns_a_log_sid_and_sent_status() -> None:
    result = LogSmsSender().send(to=TO_NUMBER, body="hello")
    assert re.fullmatch(r"LOG[0-9a-f]{32}", result.sid)
    assert result.status == "sent"


def test_every_send_gets_its_own_sid() -> None:
    sender = LogSmsSender()
    sids = {sender.send(to=TO_NUMBER, body="hello").sid for _ in range(50)}
    assert len(sids) == 50


def test_remembers_the_latest_thousand_messages() -> None:
    sender = LogSmsSender()
    for index in range(1005):
        sender.send(to=TO_NUMBER, body=f"message {index}")
    assert len(sender.sent) == 1000
    assert sender.sent[0] == (TO_NUMBER, "message 5")
    assert sender.sent[-1] == (TO_NUMBER, "message 1004")


def test_implements_the_port() -> None:
    port: SmsSender = LogSmsSender()
    assert port.send(to=TO_NUMBER, body="x").status == "sent"


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+155501230123", "+1555****0123"),
        ("+15550123", "+****0123"),
        ("+447700900123", "+4477****0123"),
        (" +15550123 ", "+****0123"),
        ("12345678", "****5678"),
        ("0123", "****"),
        ("", "****"),
    ],
)
def test_masks_the_middle_of_a_number(number: str, masked: str) -> None:
    assert mask_phone_number(number) == masked
