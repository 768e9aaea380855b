"""The SMS port: SmsError and the retry classification the outbox relies on."""

from __future__ import annotations

import dataclasses

import pytest

from notifications.sms import (
    PERMANENT_CODES,
    RETRYABLE_CODES,
    SendResult,
    SmsError,
    is_retryable_response,
)


@pytest.mark.parametrize(
    ("http_status", "code", "retryable"),
    [
        (429, 20429, True),
        (429, None, True),
        (500, 20500, True),
        (502, None, True),
        (503, 20503, True),
        (400, 21610, False),
        (400, 21211, False),
        (400, 21614, False),
        (400, 21408, False),
        (401, 20003, False),
        (404, None, False),
        (400, None, False),
        # A known code outranks an unexpected status.
        (400, 20429, True),
        (503, 21610, False),
    ],
)
def test_classification(http_status: int, code: int | None, retryable: bool) -> None:
    assert is_retryable_response(http_status=http_status, code=code) is retryable


def test_code_tables_do_not_overlap() -> None:
    assert not set(PERMANENT_CODES) & set(RETRYABLE_CODES)
    assert {21610, 21211, 21614, 21408} <= set(PERMANENT_CODES)


def test_sms_error_carries_its_facts() -> None:
    error = SmsError("Twilio HTTP 429", retryable=True, code=20429, http_status=429, retry_after=3)
    assert str(error) == "Twilio HTTP 429"
    assert (error.message, error.retryable, error.code, error.http_status, error.retry_after) == (
        "Twilio HTTP 429",
        True,
        20429,
        429,
        3,
    )
    assert "retryable=True" in repr(error)


def test_sms_error_defaults() -> None:
    error = SmsError("boom", retryable=False)
    assert (error.code, error.http_status, error.retry_after) == (None, None, None)


def test_send_result_is_frozen() -> None:
    result = SendResult(sid="SM1", status="queued")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.sid = "SM2"  # type: ignore[misc]
