"""What arrives from Twilio: replies to our texts (ACK, STOP, START, HELP) and delivery reports."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifications import texts
from notifications.delivery import record_delivery_status
from notifications.twilio_sms import messaging_response, twilio_signature_valid
from services import audit, escalations
from store.models import OutboxMessage, Role, User

# Twilio's default opt-out, opt-in and help keywords (matched on the whole, trimmed text).
OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN = frozenset({"START", "YES", "UNSTOP"})
HELP = frozenset({"HELP", "INFO"})
_ACK = re.compile(r"^ACK\b\s*#?\s*(\d{1,10})?\s*[.!]?$", re.IGNORECASE)
# The largest id PostgreSQL's INTEGER keys hold: a larger number in a text names no
# escalation, and passed on it is "integer out of range" (a 500 to Twilio).
ESCALATION_ID_MAX = 2**31 - 1


def twilio_request_valid(
    *, auth_token: str | None, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """Whether a webhook call carries Twilio's signature for this URL and form."""
    if not auth_token:
        return False  # without the token nothing can be verified, so nothing is trusted
    return twilio_signature_valid(
        auth_token=auth_token, url=url, params=params, signature=signature
    )


def twiml(text: str | None) -> str:
    """The TwiML reply carrying ``text`` (or none)."""
    return messaging_response(text)


@dataclass(frozen=True, slots=True)
class InboundResult:
    """What an inbound text did and the reply to send back."""

    action: str
    reply: str


def _sender(session: Session, phone: str) -> User | None:
    return session.scalars(
        select(User).where(User.phone == phone, User.deleted_at.is_(None))
    ).first()


def handle_inbound_sms(
    session: Session, *, from_number: str, body: str, now: datetime
) -> InboundResult:
    """Apply one inbound text: consent keywords for anyone, ACK <id> for clinicians."""
    text = " ".join(body.split())
    keyword = text.upper()
    user = _sender(session, from_number)
    if keyword in OPT_OUT or keyword in OPT_IN:
        opted_out = keyword in OPT_OUT
        if user is not None and user.sms_opted_out != opted_out:
            user.sms_opted_out = opted_out
            audit.record(
                session,
                actor=user,
                action="sms.opt_out" if opted_out else "sms.opt_in",
                target_type="user",
                target_id=user.id,
                now=now,
                detail={"keyword": keyword},
            )
            if user.role == Role.CLINICIAN:
                # A clinician's consent is also their place on the paging chain.
                if opted_out:
                    escalations.clinician_left_paging(session, clinician=user, now=now)
                else:
                    escalations.clinician_rejoined_paging(session, clinician=user, now=now)
        if user is not None and user.role == Role.CLINICIAN:
            return InboundResult(
                "opt_out" if opted_out else "opt_in",
                texts.clinician_opted_out() if opted_out else texts.clinician_opted_in(),
            )
        return InboundResult(
            "opt_out" if opted_out else "opt_in",
            texts.opted_out() if opted_out else texts.opted_in(),
        )
    if keyword in HELP:
        return InboundResult("help", texts.sms_help())
    match = _ACK.match(text)
    if match:
        if match.group(1) is None:
            return InboundResult("ack_usage", texts.ack_usage())
        escalation_id = int(match.group(1))
        if (
            0 < escalation_id <= ESCALATION_ID_MAX
            and user is not None
            and user.role == Role.CLINICIAN
            and user.is_active
            and escalations.acknowledge_by_sms(
                session, clinician=user, escalation_id=escalation_id, now=now
            )
        ):
            return InboundResult("acknowledged", texts.ack_confirmed(escalation_id=escalation_id))
        return InboundResult("ack_refused", texts.ack_refused())
    return InboundResult("unrecognised", texts.unrecognised_reply())


def handle_status_callback(
    session: Session,
    *,
    message_sid: str,
    status: str,
    error_code: int | None,
    now: datetime,
) -> bool:
    """Record Twilio's delivery report for one message; False when the SID is unknown."""
    return record_delivery_status(
        session,
        message_sid=message_sid,
        status=status.strip().lower(),
        error_code=error_code,
        now=now,
        # An undelivered page moves its chain on at once, as a page the outbox gave up on.
        listeners=(escalations.page_undeliverable,),
    )


# Twilio's error for a number that texted STOP to our sender: it will refuse every message.
UNSUBSCRIBED_AT_TWILIO = 21610


def unsubscribed_at_twilio(session: Session, message: OutboxMessage, now: datetime) -> None:
    """A send refused with 21610: record the opt-out Twilio knows of, as if STOP reached us.

    Registered as a dispatcher failure listener. Without it a clinician Twilio will never
    text stays "reachable" here: every cycle pages them in vain and nothing says the clinic
    cannot be paged.
    """
    if message.error_code != UNSUBSCRIBED_AT_TWILIO or message.recipient_id is None:
        return
    user = session.get(User, message.recipient_id)
    if user is None or user.sms_opted_out or user.phone != message.to_number:
        return
    user.sms_opted_out = True
    audit.record(
        session,
        actor=None,
        action="sms.opt_out",
        target_type="user",
        target_id=user.id,
        now=now,
        clinic_id=user.clinic_id,
        detail={"source": "twilio_21610"},
    )
    if user.role == Role.CLINICIAN:
        escalations.clinician_left_paging(session, clinician=user, now=now)
