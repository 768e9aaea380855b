"""Phone numbers: E.164 only, checked with libphonenumber."""

from __future__ import annotations

import re

import phonenumbers

# "+" then digits, optionally grouped by spaces, dots, hyphens or brackets. Never letters:
# libphonenumber would read "+1202CALLNOW" as a vanity number and dial +12022255669.
_WRITTEN_NUMBER = re.compile(r"\+[0-9][0-9 .()\-]*")


def normalize_e164(raw: str) -> str | None:
    """The E.164 form of ``raw`` when it is a possible number written as +<country><number>."""
    if len(raw) > 20 or not _WRITTEN_NUMBER.fullmatch(raw):
        return None
    try:
        parsed = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    formatted: str = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return formatted


def mask(number: str) -> str:
    """A number safe for logs: country code and last two digits only."""
    return number[:2] + "*" * max(0, len(number) - 4) + number[-2:]
