"""A database error's text never puts a row's values (a phone, a name) into a log line."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import DataError, IntegrityError

from api.logs import install_log_redaction, redact_database_values

PHONE = "+12025550101"
UNIQUE = (
    'duplicate key value violates unique constraint "users_phone_key"\n'
    f"DETAIL:  Key (phone)=({PHONE}) already exists."
)
SYNTAX = 'invalid input syntax for type integer: "Pat Demo"'


@pytest.mark.parametrize(
    ("error", "secret"),
    [
        (IntegrityError("INSERT INTO users ...", {"phone": PHONE}, Exception(UNIQUE)), PHONE),
        (DataError("SELECT ...", {}, Exception(SYNTAX)), "Pat Demo"),
    ],
)
def test_a_logged_database_error_keeps_its_frames_but_not_the_values(
    error: Exception, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    install_log_redaction()
    caplog.set_level(logging.WARNING)
    try:
        raise error
    except Exception:
        logging.getLogger("tandem.api").warning("a constraint refused the request", exc_info=True)
    [record] = caplog.records
    text = logging.Formatter().format(record)
    assert secret not in text
    assert "Traceback (most recent call last)" in text
    assert type(error).__name__ in text


def test_redaction_leaves_other_text_alone() -> None:
    assert redact_database_values("UNIQUE constraint failed: users.phone") == (
        "UNIQUE constraint failed: users.phone"
    )
    assert "users_phone_key" in redact_database_values(UNIQUE)
    assert PHONE not in redact_database_values(UNIQUE)
