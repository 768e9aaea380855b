"""The on-call schedule and the notification rules, as paging reads them (issue 13).

Reads the stored schedule into the pure :mod:`clinical.oncall` model and answers who is on
call for each tier at an instant; queues the delayed voice call a clinician's ``notify``
rules ask for; cancels pending calls once an escalation is acknowledged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from clinical.oncall import Override, Rotation, Schedule, on_call_now
from clinical.vocabulary import Priority
from notifications import pager, texts
from notifications.outbox import PENDING, Channel, NewSms, enqueue_many
from store.escalations import Escalation
from store.models import Clinic, OutboxMessage, Role, SmsAttempt, User
from store.oncall import OnCallSchedule

VOICE_PURPOSE = "page_voice"
VOICE_CHANNEL = Channel.VOICE
CANCELED = "canceled"
# Only urgent escalations ring a phone: the spoken text says "urgent".
VOICE_PRIORITIES = (Priority.URGENT,)
DEFAULT_VOICE_AFTER_MINUTES = 5
# A clinician who never chose (``notify`` unset) is texted at once and rung after 5 minutes
# of an urgent page: an SMS at night is easy to sleep through. An explicit list, even one
# without a voice rule, is theirs to keep.
DEFAULT_NOTIFY: tuple[dict[str, Any], ...] = (
    {"channel": Channel.SMS.value, "after_minutes": 0},
    {"channel": VOICE_CHANNEL, "after_minutes": DEFAULT_VOICE_AFTER_MINUTES},
)
VOICE_OUTBOX_PRIORITY = 100


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def to_schedule(timezone: str, tiers: Mapping[str, Any], overrides: Sequence[Any]) -> Schedule:
    """The pure schedule from its stored (validated) JSON form."""
    rotations = {
        int(number): Rotation(
            members=tuple(int(c) for c in tier["rotation"]),
            handoff=time.fromisoformat(tier["handoff"]),
            length_days=int(tier["length_days"]),
            starts_on=date.fromisoformat(tier["starts_on"]),
        )
        for number, tier in tiers.items()
    }
    return Schedule(
        timezone=timezone,
        rotations=rotations,
        overrides=tuple(
            Override(
                tier=int(o["tier"]),
                clinician_id=int(o["clinician_id"]),
                start=_instant(o["start"]),
                end=_instant(o["end"]),
            )
            for o in overrides
        ),
    )


def load_schedule(session: Session, clinic_id: int) -> Schedule | None:
    """The clinic's schedule, or None when it has none (paging then uses on_call_tier)."""
    row = session.get(OnCallSchedule, clinic_id)
    clinic = session.get(Clinic, clinic_id)
    if row is None or clinic is None or not (row.tiers or (row.overrides or {}).get("items")):
        return None
    return to_schedule(clinic.timezone, row.tiers, (row.overrides or {}).get("items", []))


def scheduled_on_call(session: Session, *, clinic_id: int, at: datetime) -> dict[int, User]:
    """Tier number -> the clinician the schedule puts on call at ``at`` (active ones only).

    A tier the schedule leaves empty at that instant (not started yet, or its clinician
    deactivated) is absent, so paging falls back to ``on_call_tier`` for it.
    """
    schedule = load_schedule(session, clinic_id)
    if schedule is None:
        return {}
    found: dict[int, User] = {}
    for tier, person in on_call_now(schedule, at=at).items():
        user = session.get(User, person.clinician_id)
        if (
            user is not None
            and user.role == Role.CLINICIAN
            and user.clinic_id == clinic_id
            and user.is_active
            and user.deleted_at is None
        ):
            found[tier] = user
    return found


def effective_notify(clinician: User) -> list[dict[str, Any]]:
    """The clinician's notification rules, the defaults when they never set any."""
    if clinician.notify is None:
        return [dict(rule) for rule in DEFAULT_NOTIFY]
    return list(clinician.notify)


def voice_after(clinician: User, priority: str) -> timedelta | None:
    """When (after the SMS) this clinician's rules ring them for a page, or None."""
    if priority not in VOICE_PRIORITIES:
        return None
    for rule in effective_notify(clinician):
        if rule.get("channel") == VOICE_CHANNEL:
            minutes = rule.get("after_minutes", DEFAULT_VOICE_AFTER_MINUTES)
            return timedelta(minutes=int(minutes))
    return None


def voice_key(escalation: Escalation, tier: int, clinician_id: int) -> str:
    """The outbox dedupe key of one call: one per chain, cycle, tier and clinician."""
    return f"voice:{escalation.id}:{escalation.chain}.{escalation.cycle}:{tier}:{clinician_id}"


def voice_tier_prefix(escalation: Escalation) -> str:
    return f"voice:{escalation.id}:{escalation.chain}.{escalation.cycle}:{escalation.tier}:"


def queue_voice(
    session: Session, *, escalation: Escalation, tier: int, clinician: User, now: datetime
) -> tuple[int, datetime] | None:
    """Queue the call the clinician's rules ask for: its id and when it is due (None: no call).

    The row waits in the outbox until then; an acknowledgement before it is due cancels it.
    """
    delay = voice_after(clinician, escalation.priority)
    if delay is None or not clinician.phone:
        return None
    ids = enqueue_many(
        session,
        [
            NewSms(
                to=clinician.phone,
                body=texts.voice_prompt(),
                purpose=VOICE_PURPOSE,
                channel=VOICE_CHANNEL,
                recipient_id=clinician.id,
                escalation_id=escalation.id,
                escalation_tier=tier,
                dedupe_key=voice_key(escalation, tier, clinician.id),
                priority=VOICE_OUTBOX_PRIORITY,
                not_before=now + delay,
            )
        ],
        now=now,
    )
    return (ids[0], now + delay) if ids else None


def cancel_pending_calls(session: Session, *, escalation_id: int, now: datetime) -> list[int]:
    """Cancel calls not yet placed for an escalation (it was acknowledged); returns their ids."""
    ids = list(
        session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.escalation_id == escalation_id,
                OutboxMessage.channel == VOICE_CHANNEL,
                OutboxMessage.status == PENDING,
            )
        )
    )
    if not ids:
        return []
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status == PENDING)
        .values(status=CANCELED, updated_at=now)
    )
    for message_id in ids:
        session.add(
            SmsAttempt(message_id=message_id, at=now, event="cancel", outcome="acknowledged")
        )
    return ids


def escalation_acknowledged(session: Session, *, escalation: Escalation, now: datetime) -> None:
    """After an acknowledgement in Tandem: no more calls, and tell the clinic's pager.

    The pager gets ``acknowledge``, never ``resolve``: acknowledging resolves nothing there.
    """
    cancel_pending_calls(session, escalation_id=escalation.id, now=now)
    pager.queue_event(session, escalation=escalation, action="acknowledge", now=now)


def escalation_resolved(session: Session, *, escalation: Escalation, now: datetime) -> None:
    """After a resolution in Tandem: no more calls, and the pager's incident is resolved."""
    cancel_pending_calls(session, escalation_id=escalation.id, now=now)
    pager.queue_event(session, escalation=escalation, action="resolve", now=now)
