"""The suicidality ladders, PHQ-9 item 9 and `suicidal_thoughts`, and the refused report's flag.

PHQ-9 item 9 predicts suicide attempts independently of the total (Simon et al. 2013), so it
is judged on its own; the same ladder serves an accepted check-in, the one-question re-ask
and the readable answers of a refused self-report.
"""

from __future__ import annotations

from typing import Any

from clinical.rules.flags import Flag, highest_per_kind
from clinical.rules.settings import DEFAULTS, RULES_VERSION, EscalationRules
from clinical.vocabulary import Kind, Priority


def item9_flag(
    item9: int,
    total: int | None,
    evidence: dict[str, Any],
    *,
    rules: EscalationRules,
    prefix: str = "phq9",
) -> Flag | None:
    """Suicidality from an item 9 answer and its PHQ-9 total (None when the total is unknown)."""
    if item9 >= rules.item9_urgent:
        return Flag(
            Kind.SUICIDALITY, Priority.URGENT, f"{prefix}.item9>={rules.item9_urgent}", evidence
        )
    if (
        total is not None
        and item9 >= rules.item9_high
        and total >= rules.item9_with_total_urgent_total
    ):
        rule = f"{prefix}.item9>={rules.item9_high}&total>={rules.item9_with_total_urgent_total}"
        return Flag(Kind.SUICIDALITY, Priority.URGENT, rule, evidence)
    if item9 >= rules.item9_high:
        return Flag(
            Kind.SUICIDALITY, Priority.HIGH, f"{prefix}.item9>={rules.item9_high}", evidence
        )
    return None


def suicidal_thoughts_flag(
    thoughts: int, evidence: dict[str, Any], *, rules: EscalationRules, prefix: str = "report"
) -> Flag | None:
    """Suicidality from a post-session report's `suicidal_thoughts` answer."""
    if thoughts >= rules.suicidal_thoughts_urgent:
        rule = f"{prefix}.suicidal_thoughts>={rules.suicidal_thoughts_urgent}"
        return Flag(Kind.SUICIDALITY, Priority.URGENT, rule, evidence)
    if thoughts >= rules.suicidal_thoughts_high:
        rule = f"{prefix}.suicidal_thoughts>={rules.suicidal_thoughts_high}"
        return Flag(Kind.SUICIDALITY, Priority.HIGH, rule, evidence)
    return None


def refused_report_flags(
    *,
    item9: int | None,
    phq9_total: int | None,
    suicidal_thoughts: int | None,
    refusal_status: int,
    rules: EscalationRules = DEFAULTS,
) -> list[Flag]:
    """The suicidality flag of a self-report that was refused, from its readable answers only.

    A suicidality signal that reached the server is never dropped on a technicality (a bad
    note, an expired task, a failed store): item 9 and `suicidal_thoughts` are judged by the
    same thresholds as an accepted report. The PHQ-9 total counts only when all nine answers
    were readable; nothing else of the refused report is trusted.
    """
    evidence: dict[str, Any] = {
        "refused": True,
        "refusal_status": refusal_status,
        "item9": item9,
        "total": phq9_total,
        "suicidal_thoughts": suicidal_thoughts,
        "rules_version": RULES_VERSION,
    }
    found: list[Flag | None] = []
    if item9 is not None:
        phq9 = {"instrument": "PHQ-9", **evidence}
        found.append(item9_flag(item9, phq9_total, phq9, rules=rules, prefix="refused.phq9"))
    if suicidal_thoughts is not None:
        report = {"instrument": "post-session report", **evidence}
        found.append(
            suicidal_thoughts_flag(suicidal_thoughts, report, rules=rules, prefix="refused.report")
        )
    return highest_per_kind([flag for flag in found if flag is not None])
