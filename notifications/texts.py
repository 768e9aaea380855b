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


# --- Live session monitoring (rules-2) -----------------------------------------------------
# To the clinician who opened a live session: no patient, no reading, no value.


def reading_due() -> str:
    """A live session's last reading is more than 20 minutes old."""
    return f"{BRAND}: a reading is due in a session you are running. Open Tandem to record it."
