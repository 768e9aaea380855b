"""Escalations, in one package: raising, the paging flow, the timer, the inbox, reachability.

| module           | what it does                                                        |
| ---------------- | ------------------------------------------------------------------- |
| ``raising``      | flags become escalations or join the open one (evidence, re-paging) |
| ``flow``         | the paging flow: start a chain, page tiers, advance, fall back      |
| ``timer``        | timed-out tiers and failed pages move on (the job's service)        |
| ``inbox``        | list, read, acknowledge, resolve, reassign                          |
| ``reachability`` | who nobody can page for; clinicians' STOP and START                 |
| ``state``        | the clinic's paging policy, row locks, the timeline                 |

The paging *policy* (tiers, time-outs, page keys) is pure, in ``notifications.paging``.
Callers import the public names from here.
"""

from services.escalations.inbox import (
    NOTE_MAX,
    EscalationDetail,
    acknowledge,
    acknowledge_by_sms,
    get_escalation,
    list_escalations,
    reassign,
    resolve,
)
from services.escalations.raising import (
    SOURCE_TYPES,
    EscalationRef,
    clinic_rules,
    raise_escalations,
)
from services.escalations.reachability import (
    PAGING_NOTICE_PURPOSE,
    clinician_left_paging,
    clinician_rejoined_paging,
    unpageable_ids,
    unreachable_clinics,
)
from services.escalations.timer import ADVANCE_BATCH, advance_due, page_undeliverable

__all__ = [
    "ADVANCE_BATCH",
    "NOTE_MAX",
    "PAGING_NOTICE_PURPOSE",
    "SOURCE_TYPES",
    "EscalationDetail",
    "EscalationRef",
    "acknowledge",
    "acknowledge_by_sms",
    "advance_due",
    "clinic_rules",
    "clinician_left_paging",
    "clinician_rejoined_paging",
    "get_escalation",
    "list_escalations",
    "page_undeliverable",
    "raise_escalations",
    "reassign",
    "resolve",
    "unpageable_ids",
    "unreachable_clinics",
]
