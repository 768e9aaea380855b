"""The escalation vocabulary, named once: what an escalation is about and how grave it is.

StrEnum members compare equal to (and serialise as) their strings, so stored rows and JSON
are unchanged by using them.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What an escalation is about, in the order the rules rank kinds."""

    SUICIDALITY = "suicidality"
    MANIA = "mania"
    SEVERE_DEPRESSION = "severe_depression"
    WORSENING = "worsening"
    RELAPSE = "relapse"
    ADVERSE_EVENT = "adverse_event"
    HYPERTENSION = "hypertension"
    SAFETY_ITEM_UNANSWERED = "safety_item_unanswered"
    MAINTENANCE_OVERDUE = "maintenance_overdue"
    VITAL_SIGNS = "vital_signs"
    RESPIRATORY = "respiratory"
    VITALS_OVERDUE = "vitals_overdue"
    ACUTE_SESSION_MISSED = "acute_session_missed"


class Priority(StrEnum):
    """How soon an escalation needs a clinician, gravest first."""

    URGENT = "urgent"
    HIGH = "high"
    ROUTINE = "routine"
