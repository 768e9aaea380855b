"""The paging policy, pure: who is on call for an escalation, in which order, and when to move on.

PagerDuty/Opsgenie semantics per clinic. The tiers are the clinic's clinicians grouped by
``on_call_tier``; tier 1 is the patient's care team first, then the clinic's tier-1 on-call.
Every clinician of a tier is paged at once; unacknowledged after the tier's time-out the
next tier is paged; after the last tier the chain starts again, ``repeat`` cycles in all,
and then the escalation stays open, marked ``paging_exhausted``. Each page's outbox dedupe
key names the escalation, chain, cycle, tier and clinician, so a retried job never queues
the same page twice.

Clinician pages ignore quiet hours and patient opt-outs; a clinician who opted out of SMS
is skipped. This module only decides: the escalation's state changes and its pages are
written by ``services.escalations.flow``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from clinical.vocabulary import Priority
from store.escalations import Escalation
from store.models import OutboxMessage, User

PAGE_PURPOSE = "page"
ASSIGN_PURPOSE = "page_assign"
PAGED_PRIORITIES: tuple[str, ...] = (Priority.URGENT, Priority.HIGH)
# Outbox priority: pages go before reminders, urgent before high.
OUTBOX_PRIORITY: Mapping[str, int] = {Priority.URGENT: 100, Priority.HIGH: 50}
# Delivery statuses Twilio reports for a message that never reached the phone.
UNDELIVERED = ("undelivered", "failed")

# The product defaults, each named once (a clinic's stored policy overrides them).
DEFAULT_ACK_TIMEOUT_SECONDS: Mapping[str, int] = {Priority.URGENT: 600, Priority.HIGH: 1800}
DEFAULT_REPEAT = 3
DEFAULT_QUIET_START = "21:00"
DEFAULT_QUIET_END = "08:00"
# A priority with no time-out of its own (none is paged today) waits as long as high.
_UNLISTED_TIMEOUT_SECONDS = DEFAULT_ACK_TIMEOUT_SECONDS[Priority.HIGH]


@dataclass(frozen=True, slots=True)
class PagingPolicy:
    """One clinic's paging policy, typed, built once from its effective (defaulted) policy."""

    ack_timeout_seconds: Mapping[str, int] = field(
        default_factory=lambda: dict(DEFAULT_ACK_TIMEOUT_SECONDS)
    )
    repeat: int = DEFAULT_REPEAT
    quiet_start: str = DEFAULT_QUIET_START
    quiet_end: str = DEFAULT_QUIET_END
    fallback_phone: str | None = None

    @classmethod
    def from_mapping(cls, policy: Mapping[str, Any]) -> PagingPolicy:
        """The policy from its stored form (``services.clinics.effective_policy``)."""
        timeouts = policy.get("ack_timeout_seconds") or {}
        quiet = policy.get("quiet_hours") or {}
        return cls(
            ack_timeout_seconds={**DEFAULT_ACK_TIMEOUT_SECONDS, **timeouts},
            repeat=policy.get("repeat", DEFAULT_REPEAT),
            quiet_start=quiet.get("start", DEFAULT_QUIET_START),
            quiet_end=quiet.get("end", DEFAULT_QUIET_END),
            fallback_phone=policy.get("fallback_phone") or None,
        )

    def ack_timeout(self, priority: str) -> timedelta:
        """How long a tier has to acknowledge before the next is paged."""
        seconds = self.ack_timeout_seconds.get(priority, _UNLISTED_TIMEOUT_SECONDS)
        return timedelta(seconds=max(1, int(seconds)))

    def cycles(self) -> int:
        """How many times the whole chain is paged before paging stops (at least once)."""
        return max(1, int(self.repeat))


@dataclass(frozen=True, slots=True)
class Tier:
    """One step of the chain: its number and the clinicians it pages, in order."""

    number: int
    clinicians: tuple[User, ...]


def is_paged(priority: str) -> bool:
    """Whether escalations of this priority page by SMS (routine goes to the inbox only)."""
    return priority in PAGED_PRIORITIES


def outbox_priority(priority: str) -> int:
    """The outbox priority of a page about an escalation of ``priority``."""
    return OUTBOX_PRIORITY.get(priority, 0)


def can_be_texted(clinician: User) -> bool:
    """Whether a page to this clinician can be sent at all (a phone, and no STOP)."""
    return bool(clinician.phone) and not clinician.sms_opted_out


def order_tiers(
    care_team: Iterable[User], on_call: Iterable[User], scheduled: Mapping[int, User]
) -> list[Tier]:
    """The chain: non-empty tiers in order, tier 1 led by the care team, nobody twice a tier.

    ``on_call`` are the clinic's clinicians with an ``on_call_tier``; where the on-call
    schedule names someone for a tier (``scheduled``), that person is the tier instead.
    """
    by_tier: dict[int, list[User]] = {1: list(care_team)}
    for clinician in on_call:
        assert clinician.on_call_tier is not None
        if clinician.on_call_tier not in scheduled:
            by_tier.setdefault(clinician.on_call_tier, []).append(clinician)
    for number, clinician in scheduled.items():
        by_tier.setdefault(number, []).append(clinician)
    tiers: list[Tier] = []
    for number in sorted(by_tier):
        seen: set[int] = set()
        members = []
        for clinician in by_tier[number]:
            if clinician.id not in seen:
                seen.add(clinician.id)
                members.append(clinician)
        if members:
            tiers.append(Tier(number, tuple(members)))
    return tiers


def position(tiers: list[Tier], tier_number: int) -> int:
    """Index of the first tier at or after ``tier_number`` (len(tiers) when none)."""
    for index, tier in enumerate(tiers):
        if tier.number >= tier_number:
            return index
    return len(tiers)


def page_key(escalation: Escalation, tier: int, clinician_id: int) -> str:
    """The outbox dedupe key of one page: one per chain, cycle, tier and clinician."""
    return f"{tier_prefix(escalation, tier)}{clinician_id}"


def tier_prefix(escalation: Escalation, tier: int) -> str:
    """What every page key of one tier in the escalation's current chain and cycle starts with."""
    return f"page:{escalation.id}:{escalation.chain}.{escalation.cycle}:{tier}:"


def fallback_key(escalation: Escalation) -> str:
    """The dedupe key of the fallback phone's text: once per chain."""
    return f"page:{escalation.id}:{escalation.chain}:fallback"


def is_current_page(escalation: Escalation, message: OutboxMessage) -> bool:
    """Whether ``message`` is a page of the escalation's current chain, cycle and tier."""
    return message.purpose == PAGE_PURPOSE and (message.dedupe_key or "").startswith(
        tier_prefix(escalation, escalation.tier)
    )
