"""Escalation rules: which answers, readings and gaps raise a flag, of what kind and priority.

Defaults follow the table in the project's clinical reference; every threshold lives in
EscalationRules so a clinic can override it. PHQ-9 item 9 predicts suicide attempts
independently of the total (Simon et al. 2013), so it is judged on its own; ASRM >= 6 screens
positive for mania (Altman 1997) and is urgent for bipolar patients (manic-switch risk). The
180/110 blood-pressure limit is a clinic setting, not a published standard.

The parts: `settings` (thresholds, defaults, safety floors), `flags` (a flag, kinds,
priorities), `suicidality` (the item 9 and suicidal-thoughts ladders, refused reports),
`phq9` (check-ins and the item 9 re-ask), `reports` (post-session reports), `vitals`
(readings), `deviations` (departures from the protocol) and `timers` (overdue and missed).
This package re-exports the functions and types its callers use.
"""

from clinical.rules.deviations import session_deviations
from clinical.rules.flags import KINDS, PRIORITIES, Flag, highest_per_kind, priority_rank
from clinical.rules.phq9 import item9_reask_flags, item9_reask_unanswered, phq9_flags
from clinical.rules.reports import asrm_flags, symptom_report_flags
from clinical.rules.settings import DEFAULTS, RULES_VERSION, EscalationRules
from clinical.rules.suicidality import refused_report_flags
from clinical.rules.timers import (
    acute_session_missed,
    maintenance_overdue,
    reading_due_since,
    vitals_overdue_flag,
)
from clinical.rules.vitals import VitalsReading, pre_dose_warnings, vitals_flags

__all__ = [
    "DEFAULTS",
    "KINDS",
    "PRIORITIES",
    "RULES_VERSION",
    "EscalationRules",
    "Flag",
    "VitalsReading",
    "acute_session_missed",
    "asrm_flags",
    "highest_per_kind",
    "item9_reask_flags",
    "item9_reask_unanswered",
    "maintenance_overdue",
    "phq9_flags",
    "pre_dose_warnings",
    "priority_rank",
    "reading_due_since",
    "refused_report_flags",
    "session_deviations",
    "symptom_report_flags",
    "vitals_flags",
    "vitals_overdue_flag",
]
