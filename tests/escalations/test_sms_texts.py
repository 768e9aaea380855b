"""Every SMS text: minimum necessary (no diagnosis, drug, score, answer, name or number)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from notifications import texts
from tests.escalations.support import ack_ids, sms_text_problems

SAMPLES: dict[str, Any] = {"escalation_id": 4321, "priority": "urgent", "code": "012345"}


def _text_functions() -> list[tuple[str, Callable[..., str]]]:
    found = []
    for name, function in inspect.getmembers(texts, inspect.isfunction):
        if function.__module__ != texts.__name__ or name.startswith("_"):
            continue
        found.append((name, function))
    return found


@pytest.mark.parametrize(("name", "function"), _text_functions())
def test_every_text_function_is_clean(name: str, function: Callable[..., str]) -> None:
    params = inspect.signature(function).parameters
    required = [p for p in params.values() if p.default is inspect.Parameter.empty]
    if any(p.name not in SAMPLES for p in required):
        pytest.skip(f"{name} takes arguments this scan does not know how to fill")
    body = function(**{p.name: SAMPLES[p.name] for p in required})
    assert body.startswith("Tandem"), body
    assert not sms_text_problems(body, allowed_ids=ack_ids(body)), body
    assert len(body) <= 320, "at most two SMS segments"


@pytest.mark.parametrize("priority", ["urgent", "high"])
def test_page_names_priority_id_and_how_to_ack_only(priority: str) -> None:
    body = texts.escalation_page(escalation_id=77, priority=priority)
    assert body == (
        f"Tandem: a patient needs attention ({priority} priority). Escalation 77. "
        "Reply ACK 77 to acknowledge, or open the Tandem inbox."
    )


@pytest.mark.parametrize(
    "body",
    [
        "Tandem: patient_a scored 22 on the PHQ-9",
        "Tandem: suicidal thoughts reported",
        "Tandem: ketamine session overdue",
        "Escalation 5: item 9 answer 3",
    ],
)
def test_the_scanner_catches_what_it_must(body: str) -> None:
    assert sms_text_problems(body, allowed_ids=ack_ids(body))
