"""Crisis resources returned with any submission that mentions suicidal thoughts.

Any PHQ-9 item 9 answer of 1 or more, or a post-session `suicidal_thoughts` rating of 1 or
more, puts these resources in the response to the patient, whatever else happens (pages,
escalations). US resources: the 988 Suicide & Crisis Lifeline (call or text 988, chat
https://988lifeline.org) and emergency services on 911.
"""

from __future__ import annotations

import copy
from typing import Any

ITEM9_MIN = 1
SUICIDAL_THOUGHTS_MIN = 1

CRISIS_RESOURCES: dict[str, Any] = {
    "message": (
        "If you are in danger now, call 911. You can call or text 988 to reach the "
        "988 Suicide & Crisis Lifeline any time, day or night."
    ),
    "resources": [
        {
            "name": "988 Suicide & Crisis Lifeline",
            "country": "US",
            "call": "988",
            "text": "988",
            "chat": "https://988lifeline.org",
            "available": "24/7",
        },
        {
            "name": "Emergency services",
            "country": "US",
            "call": "911",
            "available": "24/7",
        },
    ],
}


def needs_crisis_resources(
    *, item9: int | None = None, suicidal_thoughts: int | None = None, item9_skipped: bool = False
) -> bool:
    """True when PHQ-9 item 9 >= 1 or skipped, or the reported suicidal thoughts >= 1.

    A skipped item 9 gets them too (rules-2): the patient may be withholding.
    """
    return (
        item9_skipped
        or (item9 is not None and item9 >= ITEM9_MIN)
        or (suicidal_thoughts is not None and suicidal_thoughts >= SUICIDAL_THOUGHTS_MIN)
    )


def crisis_resources_for(
    *, item9: int | None = None, suicidal_thoughts: int | None = None, item9_skipped: bool = False
) -> dict[str, Any] | None:
    """A fresh copy of CRISIS_RESOURCES when needed, else None."""
    if needs_crisis_resources(
        item9=item9, suicidal_thoughts=suicidal_thoughts, item9_skipped=item9_skipped
    ):
        return copy.deepcopy(CRISIS_RESOURCES)
    return None
