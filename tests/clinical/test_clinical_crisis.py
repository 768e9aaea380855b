"""Crisis resources for any sign of suicidal thoughts."""

from __future__ import annotations

import json

import pytest

from clinical.crisis import CRISIS_RESOURCES, crisis_resources_for, needs_crisis_resources


@pytest.mark.parametrize(
    ("item9", "thoughts", "needed"),
    [
        (None, None, False),
        (0, None, False),
        (None, 0, False),
        (0, 0, False),
        (1, None, True),
        (3, 0, True),
        (None, 1, True),
        (0, 2, True),
    ],
)
def test_needs_crisis_resources(item9: int | None, thoughts: int | None, needed: bool) -> None:
    assert needs_crisis_resources(item9=item9, suicidal_thoughts=thoughts) is needed
    resources = crisis_resources_for(item9=item9, suicidal_thoughts=thoughts)
    assert (resources is not None) is needed


def test_resources_content_is_json_and_a_copy() -> None:
    resources = crisis_resources_for(item9=1)
    assert resources == CRISIS_RESOURCES
    assert resources is not CRISIS_RESOURCES
    text = json.dumps(resources)
    assert "988" in text
    assert "911" in text
    assert "https://988lifeline.org" in text
    assert resources["message"].startswith("If you are in danger now, call 911")
    lifeline = resources["resources"][0]
    assert (lifeline["call"], lifeline["text"]) == ("988", "988")
    resources["resources"].clear()
    assert CRISIS_RESOURCES["resources"]
