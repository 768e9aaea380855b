"""On-call schedules, clinicians' own settings, and voice pages (issue 13).

The schedule is validated here against the clinic (every clinician named must be an active
clinician of it; overrides of a tier may not overlap) and stored whole; who is on call is
computed by the pure :mod:`clinical.oncall`. Runs in the caller's unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinical.oncall import Override, on_call_now, overlapping_overrides
from notifications import oncall as notify_oncall
from notifications import texts
from notifications.outbox import PENDING, SENDING, SENT, Channel
from services import audit, escalations
from services.clinics import ensure_unique_contact, get_clinic
from services.errors import Forbidden, Invalid, NotFound
from services.escalations import flow
from services.escalations.state import add_event, locked
from store.escalations import Escalation, Status
from store.models import OutboxMessage, Role, SmsAttempt, User
from store.oncall import OnCallSchedule

if TYPE_CHECKING:
    from config import Settings
    from notifications.sms import SmsSender

CHANNELS = (Channel.SMS, Channel.VOICE)
# Twilio's final call statuses that mean nobody took the call: the chain moves on.
CALL_NOT_ANSWERED = ("busy", "no-answer", "failed", "canceled")
CALL_FINAL = ("completed", *CALL_NOT_ANSWERED)


def _clinic_for(session: Session, *, viewer: User, clinic_id: int) -> None:
    """404 unless the viewer is an admin or a clinician of this clinic."""
    if viewer.role == Role.CLINICIAN and viewer.clinic_id != clinic_id:
        raise NotFound("No such clinic.")
    get_clinic(session, clinic_id=clinic_id)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _check_schedule(
    session: Session,
    *,
    clinic_id: int,
    tiers: Mapping[str, Mapping[str, Any]],
    overrides: Sequence[Mapping[str, Any]],
) -> None:
    """422 naming each rotation or override member who is not an active clinician, and overlaps."""
    staff = {
        u.id
        for u in session.scalars(
            select(User).where(
                User.clinic_id == clinic_id,
                User.role == Role.CLINICIAN,
                User.is_active.is_(True),
                User.deleted_at.is_(None),
            )
        )
    }
    errors: dict[str, list[str]] = {}
    for number, tier in tiers.items():
        foreign = [c for c in tier["rotation"] if c not in staff]
        if foreign:
            errors[f"tiers.{number}.rotation"] = [
                f"Not active clinicians of this clinic: {', '.join(map(str, foreign))}."
            ]
    for index, override in enumerate(overrides):
        if override["clinician_id"] not in staff:
            errors[f"overrides.{index}.clinician_id"] = [
                "Must be an active clinician of this clinic."
            ]
    pure = [
        Override(o["tier"], o["clinician_id"], o["start"].astimezone(UTC), o["end"].astimezone(UTC))
        for o in overrides
    ]
    for first, second in overlapping_overrides(pure):
        errors.setdefault(f"overrides.{second}", []).append(
            f"Overlaps override {first} of the same tier."
        )
    if errors:
        raise Invalid(errors)


def put_schedule(
    session: Session,
    *,
    viewer: User,
    clinic_id: int,
    tiers: Mapping[str, Mapping[str, Any]],
    overrides: Sequence[Mapping[str, Any]],
    now: datetime,
) -> OnCallSchedule:
    """Replace the clinic's schedule (422 naming each bad field; nothing stored then)."""
    _clinic_for(session, viewer=viewer, clinic_id=clinic_id)
    _check_schedule(session, clinic_id=clinic_id, tiers=tiers, overrides=overrides)
    stored_tiers = {
        str(number): {
            "rotation": list(tier["rotation"]),
            "handoff": tier["handoff"],
            "length_days": tier["length_days"],
            "starts_on": tier["starts_on"].isoformat(),
        }
        for number, tier in sorted(tiers.items())
    }
    stored_overrides = {
        "items": [
            {
                "tier": o["tier"],
                "clinician_id": o["clinician_id"],
                "start": _iso(o["start"]),
                "end": _iso(o["end"]),
            }
            for o in sorted(overrides, key=lambda o: (o["tier"], o["start"]))
        ]
    }
    row = session.get(OnCallSchedule, clinic_id)
    if row is None:
        row = OnCallSchedule(clinic_id=clinic_id)
        session.add(row)
    row.tiers = stored_tiers
    row.overrides = stored_overrides
    row.updated_at = now
    row.updated_by = viewer.id
    audit.record(
        session,
        actor=viewer,
        action="oncall.update",
        target_type="clinic",
        target_id=clinic_id,
        clinic_id=clinic_id,
        now=now,
        detail={"tiers": stored_tiers, "overrides": stored_overrides["items"]},
    )
    session.flush()
    return row


@dataclass(frozen=True)
class OnCallView:
    """Who is on call per tier at ``at``, and the schedule it comes from."""

    at: datetime
    tiers: dict[str, dict[str, Any]]
    schedule: dict[str, Any]


def on_call_at(session: Session, *, clinic_id: int, at: datetime) -> dict[str, dict[str, Any]]:
    """Tier number (as text) -> {"clinician_id", "until"} per the clinic's schedule."""
    schedule = notify_oncall.load_schedule(session, clinic_id)
    if schedule is None:
        return {}
    return {
        str(tier): {"clinician_id": person.clinician_id, "until": person.until}
        for tier, person in on_call_now(schedule, at=at).items()
    }


def get_on_call(
    session: Session, *, viewer: User, clinic_id: int, at: datetime, now: datetime
) -> OnCallView:
    """The schedule and who it puts on call at ``at`` (audited)."""
    _clinic_for(session, viewer=viewer, clinic_id=clinic_id)
    row = session.get(OnCallSchedule, clinic_id)
    audit.record(
        session,
        actor=viewer,
        action="oncall.read",
        target_type="clinic",
        target_id=clinic_id,
        clinic_id=clinic_id,
        now=now,
        detail={"at": _iso(at)},
    )
    return OnCallView(
        at=at,
        tiers=on_call_at(session, clinic_id=clinic_id, at=at),
        schedule={
            "tiers": dict(row.tiers) if row else {},
            "overrides": list((row.overrides or {}).get("items", [])) if row else [],
        },
    )


# --- A clinician's own settings ----------------------------------------------------------


def update_clinician(
    session: Session,
    *,
    viewer: User,
    clinician_id: int,
    changes: Mapping[str, Any],
    now: datetime,
) -> User:
    """Change name, phone, on_call_tier or notify (admin, or the clinician for themself)."""
    target = session.get(User, clinician_id)
    if target is None or target.role != Role.CLINICIAN or target.deleted_at is not None:
        raise NotFound("No such clinician.")
    if viewer.role == Role.CLINICIAN and viewer.id != target.id:
        if viewer.clinic_id != target.clinic_id:
            raise NotFound("No such clinician.")
        raise Forbidden("A clinician may change only their own settings.")
    if "phone" in changes and changes["phone"] != target.phone:
        ensure_unique_contact(session, email=None, phone=changes["phone"])
    if "notify" in changes and changes["notify"] is not None:
        channels = [rule["channel"] for rule in changes["notify"]]
        if len(set(channels)) != len(channels):
            raise Invalid({"notify": ["At most one rule per channel."]})
    for name in ("name", "phone", "on_call_tier", "notify"):
        if name in changes:
            setattr(target, name, changes[name])
    audit.record(
        session,
        actor=viewer,
        action="clinician.update",
        target_type="user",
        target_id=target.id,
        clinic_id=target.clinic_id,
        now=now,
        detail={"fields": sorted(changes)},
    )
    session.flush()
    return target


# --- Voice pages: the call's TwiML and its status callbacks ------------------------------


@dataclass(frozen=True)
class CallTurn:
    """What the voice webhook should say next; ``gather`` asks for one more key."""

    say: str
    gather: bool
    then: str | None = None


def _call_row(session: Session, call_sid: str) -> OutboxMessage | None:
    if not call_sid:
        return None
    return session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.twilio_sid == call_sid,
            OutboxMessage.channel == notify_oncall.VOICE_CHANNEL,
        )
    ).first()


def handle_call(session: Session, *, call_sid: str, digits: str | None, now: datetime) -> CallTurn:
    """One turn of a voice page: prompt, acknowledge on 1, say so on any other key."""
    row = _call_row(session, call_sid)
    if row is None or row.escalation_id is None or row.recipient_id is None:
        return CallTurn(texts.voice_not_acknowledged(), gather=False)
    if not digits:
        return CallTurn(texts.voice_prompt(), gather=True, then=texts.voice_no_key())
    clinician = session.get(User, row.recipient_id)
    escalation = session.get(Escalation, row.escalation_id)
    pressed = "1" if digits == "1" else "other"
    audit.record(
        session,
        actor=clinician,
        action="escalation.voice_key",
        target_type="escalation",
        target_id=row.escalation_id,
        clinic_id=escalation.clinic_id if escalation else None,
        now=now,
        detail={"key": pressed, "message_id": row.id},
    )
    if escalation is not None:
        add_event(
            session,
            escalation,
            "call_key_pressed",
            now=now,
            actor_id=row.recipient_id,
            key=pressed,
            message_id=row.id,
        )
    if pressed != "1":
        return CallTurn(texts.voice_wrong_key(), gather=True, then=texts.voice_no_key())
    if clinician is None or not clinician.is_active:
        return CallTurn(texts.voice_not_acknowledged(), gather=False)
    if escalations.acknowledge_by_sms(
        session, clinician=clinician, escalation_id=row.escalation_id, now=now, via="voice"
    ):
        return CallTurn(texts.voice_acknowledged(), gather=False)
    return CallTurn(texts.voice_not_acknowledged(), gather=False)


def record_call_status(session: Session, *, call_sid: str, status: str, now: datetime) -> bool:
    """Store one call status callback; an unanswered call moves the chain on at once.

    False when no call has that SID.
    """
    row = _call_row(session, call_sid)
    if row is None:
        return False
    status = status[:16]
    previous = row.delivery_status
    if previous not in CALL_FINAL:
        row.delivery_status = status
    row.updated_at = now
    session.add(
        SmsAttempt(
            message_id=row.id, at=now, event="status", outcome=status[:32], twilio_sid=call_sid
        )
    )
    if status in CALL_NOT_ANSWERED and previous not in CALL_FINAL:
        session.flush()
        _call_not_answered(session, row, now=now)
    return True


def call_undeliverable(session: Session, message: OutboxMessage, now: datetime) -> None:
    """A call Twilio refused for good (the dispatcher's failure listener): as unanswered."""
    if message.channel != notify_oncall.VOICE_CHANNEL:
        return
    _call_not_answered(session, message, now=now)


def _call_not_answered(session: Session, row: OutboxMessage, *, now: datetime) -> None:
    """Busy, no answer or failed counts as not delivered: page the next tier now."""
    if row.escalation_id is None:
        return
    escalation = locked(session, Escalation.id == row.escalation_id)
    if escalation is None:
        return
    add_event(
        session,
        escalation,
        "call_not_answered",
        now=now,
        clinician_id=row.recipient_id,
        tier=row.escalation_tier,
        message_id=row.id,
        call_status=row.delivery_status,
    )
    prefix = notify_oncall.voice_tier_prefix(escalation)
    if escalation.status != Status.OPEN or not (row.dedupe_key or "").startswith(prefix):
        return  # acknowledged meanwhile, or a call of an earlier tier: nothing to move
    others = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.escalation_id == escalation.id,
            OutboxMessage.channel == notify_oncall.VOICE_CHANNEL,
            OutboxMessage.id != row.id,
            OutboxMessage.dedupe_key.startswith(prefix, autoescape=True),
        )
    ).all()
    if any(
        o.status in (PENDING, SENDING)
        or (o.status == SENT and (o.delivery_status or "") not in CALL_FINAL)
        for o in others
    ):
        return  # another call of this tier may still be answered
    flow.advance(session, escalation=escalation, now=now, reason="call_not_answered")


# --- The channels the outbox sends through, besides SMS -------------------------------------


def build_channels(settings: Settings, sms: SmsSender) -> dict[str, SmsSender]:
    """Senders for the "voice" and "pager" outbox channels, matching the SMS backend."""
    from notifications.pager import EventsApiSender
    from notifications.twilio_sms import TwilioSmsSender, TwilioVoiceSender
    from notifications.voice import LogVoiceSender

    channels: dict[str, SmsSender] = {
        Channel.PAGER: EventsApiSender(timeout=settings.twilio_timeout_seconds)
    }
    base = settings.public_base_url
    if isinstance(sms, TwilioSmsSender):
        if base:
            # Without a public URL Twilio could not fetch the call's words: no voice sender,
            # so such rows fail for good (recorded) instead of ringing a silent phone.
            channels[Channel.VOICE] = TwilioVoiceSender(
                sms,
                twiml_url=f"{base}/webhooks/twilio/voice",
                status_callback=f"{base}/webhooks/twilio/voice/status",
            )
    else:
        channels[Channel.VOICE] = LogVoiceSender()
    return channels


def twiml(turn: CallTurn, *, action: str) -> str:
    """The TwiML for one turn of a voice page."""
    from notifications.twilio_sms import voice_response

    return voice_response(
        say=turn.say, gather_action=action if turn.gather else None, then=turn.then
    )


def empty_twiml() -> str:
    """An empty TwiML reply (status callbacks expect nothing)."""
    from notifications.twilio_sms import messaging_response

    return messaging_response(None)


def notify_rules(clinician: User) -> list[dict[str, Any]]:
    """The rules paging applies to this clinician (the defaults when they never chose)."""
    return notify_oncall.effective_notify(clinician)


@dataclass(frozen=True)
class OnCallEntry:
    """One clinician paged for a tier right now, and whether a schedule put them there."""

    tier: int
    clinician: User
    until: datetime | None
    scheduled: bool


def who_is_on_call(session: Session, *, clinic_id: int, at: datetime) -> list[OnCallEntry]:
    """Per tier, who paging reaches at ``at``: the schedule's person where one is set, else
    the active clinicians with that ``on_call_tier`` (as paging itself decides)."""
    scheduled = notify_oncall.scheduled_on_call(session, clinic_id=clinic_id, at=at)
    untils = {
        int(t): v["until"] for t, v in on_call_at(session, clinic_id=clinic_id, at=at).items()
    }
    entries = [OnCallEntry(tier, user, untils.get(tier), True) for tier, user in scheduled.items()]
    for user in session.scalars(
        select(User)
        .where(
            User.clinic_id == clinic_id,
            User.role == Role.CLINICIAN,
            User.is_active.is_(True),
            User.deleted_at.is_(None),
            User.on_call_tier.is_not(None),
        )
        .order_by(User.on_call_tier, User.id)
    ):
        assert user.on_call_tier is not None
        if user.on_call_tier not in scheduled:
            entries.append(OnCallEntry(user.on_call_tier, user, None, False))
    return sorted(entries, key=lambda e: (e.tier, e.clinician.id))
