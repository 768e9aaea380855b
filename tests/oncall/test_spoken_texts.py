"""Everything a voice page says, scanned like every SMS: no diagnosis, drug, score, answer,
name or number but the key that acknowledges. The TwiML is scanned as it is served."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from notifications import texts
from services.oncall import CallTurn, twiml
from tests.escalations.support import ack_ids, sms_text_problems

SPOKEN: list[Callable[[], str]] = [
    texts.voice_prompt,
    texts.voice_no_key,
    texts.voice_acknowledged,
    texts.voice_wrong_key,
    texts.voice_not_acknowledged,
]


@pytest.mark.parametrize("text", SPOKEN, ids=lambda f: f.__name__)
@pytest.mark.parametrize("gather", [True, False])
def test_every_spoken_turn_is_clean_as_twiml(text: Callable[[], str], gather: bool) -> None:
    document = twiml(
        CallTurn(text(), gather=gather, then=texts.voice_no_key()),
        action="https://tandem.example.org/webhooks/twilio/voice",
    )
    said = re.findall(r"<Say>(.*?)</Say>", document, re.S)
    assert said and all(s.startswith("Tandem") for s in said)
    for words in said:
        assert not sms_text_problems(words, allowed_ids=ack_ids(words)), words
    assert document.endswith("<Hangup /></Response>")


def test_the_spoken_scan_catches_what_it_must() -> None:
    for bad in (
        "Tandem. patient_a reported suicidal thoughts. Press 1.",
        "Tandem. Escalation about a score of 22. Press 1.",
        "Tandem. Call 2025550131 back.",
    ):
        assert sms_text_problems(bad, allowed_ids=ack_ids(bad)), bad


def test_the_pager_summary_is_clean() -> None:
    summary = texts.pager_summary(escalation_id=4321, priority="urgent")
    assert not sms_text_problems(summary, allowed_ids=ack_ids(summary))
