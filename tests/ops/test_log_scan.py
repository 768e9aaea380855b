"""The session-wide log scan (tests/conftest.py) sees each kind of leak it looks for."""

from __future__ import annotations

import logging

import pytest

from tests.support.suite import LeakScanner


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("phone number", "texting +12025550111 now"),
        ("phone number", "call (202) 555-0142"),
        ("token", "bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig"),
        ("password", "login with correct horse battery"),
        ("name", "patient Test Patient enrolled"),
        ("code", "activation code 123456 sent"),
        ("answers", "body={'answers': [1, 2, 3]}"),
    ],
)
def test_the_scanner_catches(kind: str, message: str, log_leak_scan: LeakScanner) -> None:
    scanner = LeakScanner()
    logger = logging.getLogger("tandem.scan-probe")
    logger.addHandler(scanner)
    logger.propagate = False  # keep the probe out of the session's own scan
    try:
        logger.warning("%s", message)
    finally:
        logger.removeHandler(scanner)
        logger.propagate = True
    assert [leak.split(":")[0] for leak in scanner.leaks] == [kind]


def test_the_scanner_passes_clean_lines_and_the_log_backend_message() -> None:
    scanner = LeakScanner()
    logger = logging.getLogger("tandem.sms")
    logger.addHandler(scanner)
    logger.propagate = False
    try:
        logger.warning("sms %s failed for good after %s attempt(s): code=%s", 17, 3, 21610)
        logger.warning("SMS LOGabc to +1202****0111 (10 chars): your code is 123456")
    finally:
        logger.removeHandler(scanner)
        logger.propagate = True
    assert scanner.leaks == [] and scanner.seen == 1
