"""Every SMS text Tandem sends, in one place.

Minimum necessary: no diagnosis, medication, procedure, score, answer or name
ever goes into an SMS (HHS guidance on texting patients). A text says that
something needs attention and where to look.
"""

from __future__ import annotations

BRAND = "Tandem"


def activation_code(code: str) -> str:
    """The one-time code a newly enrolled patient uses to set a password."""
    return (
        f"{BRAND}: your activation code is {code}. It expires in 24 hours. "
        "Enter it in the app to finish setting up. Never share this code."
    )
