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


# --- Escalation pages and SMS keyword replies -------------------------------------------
# A page names only the priority and the escalation id: never who, why or what was answered.


def escalation_page(*, escalation_id: int, priority: str) -> str:
    """The page a clinician receives when a patient needs attention."""
    return (
        f"{BRAND}: a patient needs attention ({priority} priority). "
        f"Escalation {escalation_id}. Reply ACK {escalation_id} to acknowledge, "
        "or open the Tandem inbox."
    )


def escalation_unanswered(*, escalation_id: int, priority: str) -> str:
    """To the clinic's fallback phone when no clinician on the chain acknowledged or answered."""
    return (
        f"{BRAND}: no clinician has acknowledged escalation {escalation_id} "
        f"({priority} priority). Open the Tandem inbox now."
    )


def escalation_assigned(*, escalation_id: int, priority: str) -> str:
    """Tells a clinician an escalation was reassigned to them."""
    return (
        f"{BRAND}: escalation {escalation_id} ({priority} priority) was assigned to you. "
        f"Reply ACK {escalation_id} to acknowledge, or open the Tandem inbox."
    )


def ack_confirmed(*, escalation_id: int) -> str:
    """Reply to an ACK that acknowledged (or had already acknowledged) an escalation."""
    return f"{BRAND}: escalation {escalation_id} acknowledged. Paging has stopped."


def ack_refused() -> str:
    """Reply to an ACK that could not be applied (unknown id, not yours, or resolved)."""
    return (
        f"{BRAND}: that escalation could not be acknowledged from this phone. "
        "Check the id or open the Tandem inbox."
    )


def ack_usage() -> str:
    """Reply to a bare ACK without an escalation id."""
    return f"{BRAND}: to acknowledge, reply ACK followed by the escalation id from the page."


def opted_out() -> str:
    """Confirmation of STOP (and Twilio's other opt-out words)."""
    return (
        f"{BRAND}: you are unsubscribed and will get no more texts from us. "
        "Reply START to subscribe again."
    )


def opted_in() -> str:
    """Confirmation of START, YES or UNSTOP."""
    return f"{BRAND}: you are subscribed again. Reply STOP to unsubscribe, HELP for help."


def sms_help() -> str:
    """Reply to HELP or INFO."""
    return (
        f"{BRAND}: care-team reminders and alerts. Reply STOP to unsubscribe, START to "
        "resubscribe. For help open the Tandem app or call your clinic. "
        "In an emergency call 911; in crisis call or text 988."
    )


def unrecognised_reply() -> str:
    """Reply to a text Tandem cannot act on."""
    return (
        f"{BRAND}: this number is not monitored. If you are in danger call 911; in crisis "
        "call or text 988. Otherwise use the Tandem app or call your clinic."
    )


def checkin_reminder() -> str:
    """A patient has something to fill in; the app says what (never the text)."""
    return f"{BRAND}: you have a check-in waiting in the app."


def next_session_due_today() -> str:
    """The morning a maintenance session falls due."""
    return f"{BRAND}: your next session is due today. Contact your clinic to book."


def next_session_due() -> str:
    """The day after, when no session has been recorded yet."""
    return f"{BRAND}: your next session is due. Contact your clinic to book."


# --- Voice pages and pager events (issue 13) -----------------------------------------------
# Spoken aloud to whoever picks up, so even less than an SMS: no id, no name, no reason.


def voice_prompt() -> str:
    """What a voice page says when answered (inside the one-digit prompt)."""
    return (
        f"{BRAND}. An urgent escalation needs your attention. "
        "Press 1 to acknowledge it, or open the Tandem inbox."
    )


def voice_no_key() -> str:
    """Said when the call was answered but no key was pressed."""
    return f"{BRAND}. No key was pressed, so nothing was acknowledged. Open the Tandem inbox."


def voice_acknowledged() -> str:
    """Said after 1 acknowledged the escalation (or it already was)."""
    return f"{BRAND}. Acknowledged. Paging has stopped. Goodbye."


def voice_wrong_key() -> str:
    """Said after any key other than 1: nothing happened, and how to acknowledge."""
    return f"{BRAND}. That key does not acknowledge anything. Press 1 to acknowledge."


def voice_not_acknowledged() -> str:
    """Said when the call cannot acknowledge (unknown call, resolved, not this clinician's)."""
    return f"{BRAND}. This call could not acknowledge the escalation. Open the Tandem inbox."


def pager_summary(*, escalation_id: int, priority: str) -> str:
    """The summary of a PagerDuty event: as little as a page."""
    return (
        f"{BRAND}: escalation {escalation_id} needs attention ({priority} priority). "
        "Open the Tandem inbox."
    )


# --- Clinicians leaving and rejoining paging (issue 15) ---------------------------------


def clinician_opted_out() -> str:
    """Reply to a clinician's STOP: they must know plainly that urgent pages stop too."""
    return (
        f"{BRAND}: you are unsubscribed. You will no longer receive urgent pages from Tandem "
        "by text; your clinic's other clinicians have been told. Reply START to receive "
        "pages again."
    )


def clinician_opted_in() -> str:
    """Reply to a clinician's START: pages resume, including any still waiting."""
    return (
        f"{BRAND}: you are subscribed again and will receive urgent pages by text, "
        "including any still unacknowledged. Reply STOP to unsubscribe."
    )


def colleague_left_paging() -> str:
    """To a clinic's other reachable clinicians when one of them texts STOP (no names)."""
    return (
        f"{BRAND}: a colleague at your clinic has stopped receiving pages by text. "
        "Check who is on call in the Tandem inbox."
    )


def nobody_pageable() -> str:
    """To the clinic's fallback phone when its last reachable clinician leaves paging."""
    return (
        f"{BRAND}: nobody at your clinic can receive urgent pages by text any more. "
        "Open the Tandem inbox and arrange cover now."
    )


# --- Live session monitoring (rules-2) -----------------------------------------------------
# To the clinician who opened a live session: no patient, no reading, no value.


def reading_due() -> str:
    """A live session's last reading is more than 20 minutes old."""
    return f"{BRAND}: a reading is due in a session you are running. Open Tandem to record it."
