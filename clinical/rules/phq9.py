"""Flags from a scored PHQ-9 check-in and from the one-question item 9 re-ask.

A check-in can raise suicidality (item 9), severe depression (the total without item 9),
worsening, relapse and, when item 9 was skipped, safety_item_unanswered.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from clinical import outcomes
from clinical._checks import require_aware
from clinical.outcomes import RESPONSE_REDUCTION, change_from_baseline
from clinical.phq9 import Phq9Score
from clinical.rules.flags import Flag, highest_per_kind
from clinical.rules.settings import DEFAULTS, RULES_VERSION, EscalationRules
from clinical.rules.suicidality import item9_flag
from clinical.vocabulary import Kind, Priority
from clinical.worsening import worsening

# The one-question re-ask after a skipped item 9 is open this long.
ITEM9_REASK_HOURS = 24


def _phq9_evidence(score: Phq9Score, **extra: Any) -> dict[str, Any]:
    return {
        "instrument": "PHQ-9",
        "version": score.version,
        "answers": list(score.answers),
        "total": score.total,
        "prorated": score.prorated,
        "item9": score.item9,
        "rules_version": RULES_VERSION,
        **extra,
    }


def phq9_flags(
    score: Phq9Score,
    *,
    previous_total: int | None,
    baseline: int | None,
    relapse: str = outcomes.RELAPSE_NONE,
    rules: EscalationRules = DEFAULTS,
) -> list[Flag]:
    """Flags from one scored PHQ-9 (rules-2).

    `baseline` is the PHQ-9 baseline to measure worsening against (None for a pre-treatment
    check-in, which is itself a baseline); `relapse` is outcomes.relapse_status() of this total.
    """
    suicidality = (
        item9_flag(score.item9, score.total, _phq9_evidence(score), rules=rules)
        if score.item9 is not None
        else None
    )
    found = [
        suicidality,
        # "Without item 9": only when no suicidality flag already covers the high total.
        _severe_depression(score, rules) if suicidality is None else None,
        _worsening(score, previous_total, baseline, rules),
        _relapse(score, baseline, relapse, rules),
        _item9_skipped(score, rules),
    ]
    return highest_per_kind([flag for flag in found if flag is not None])


def _severe_depression(score: Phq9Score, rules: EscalationRules) -> Flag | None:
    if score.total < rules.severe_depression_total:
        return None
    rule = f"phq9.total>={rules.severe_depression_total}"
    return Flag(Kind.SEVERE_DEPRESSION, Priority.HIGH, rule, _phq9_evidence(score))


def _worsening(
    score: Phq9Score, previous_total: int | None, baseline: int | None, rules: EscalationRules
) -> Flag | None:
    """Routine worsening against the previous check-in and/or the baseline."""
    base = outcomes.Baseline(
        score=baseline,
        source=None,
        at=None,
        reason=None if baseline is not None else outcomes.NO_PHQ9_BASELINE,
    )
    total = score.total
    worse = worsening(
        baseline=base, previous_total=previous_total, total=total, points=rules.worsening_points
    )
    if worse is None:
        return None
    rise = _phq9_evidence(
        score,
        previous_total=previous_total,
        baseline=baseline,
        rise=total - previous_total if previous_total is not None else None,
        against=list(worse.against),
        definition=worse.version,
    )
    rule = "|".join(f"phq9.total>={name}+{rules.worsening_points}" for name in worse.against)
    return Flag(Kind.WORSENING, Priority.ROUTINE, rule, rise)


def _relapse(
    score: Phq9Score, baseline: int | None, relapse: str, rules: EscalationRules
) -> Flag | None:
    """Relapse from outcomes.relapse_status(): routine to re-check, high once confirmed."""
    if relapse == outcomes.RELAPSE_NONE:
        return None
    change = change_from_baseline(baseline=baseline, current=score.total)
    relapse_evidence = _phq9_evidence(
        score,
        baseline=baseline,
        change=change.as_dict() if change is not None else None,
        ever_responded=True,
        relapse_status=relapse,
        definition=outcomes.RELAPSE_VERSION,
    )
    percent = round(RESPONSE_REDUCTION * 100)
    # One bad total opens a re-check (routine); the second in a row confirms it (high).
    confirmed = relapse == outcomes.RELAPSE_CONFIRMED
    rule = f"phq9.relapse.{relapse}:total>={rules.relapse_min_total}&reduction<{percent}%"
    return Flag(
        Kind.RELAPSE, Priority.HIGH if confirmed else Priority.ROUTINE, rule, relapse_evidence
    )


def _item9_skipped(score: Phq9Score, rules: EscalationRules) -> Flag | None:
    if score.item9 is not None:
        return None
    # The patient may be withholding: a high total makes the silence more worrying.
    high = score.total >= rules.item9_skipped_high_total
    rule = "phq9.item9_skipped" + (f"&total>={rules.item9_skipped_high_total}" if high else "")
    return Flag(
        Kind.SAFETY_ITEM_UNANSWERED,
        Priority.HIGH if high else Priority.ROUTINE,
        rule,
        _phq9_evidence(score),
    )


def item9_reask_flags(
    *, item9: int, original_total: int, rules: EscalationRules = DEFAULTS
) -> list[Flag]:
    """Suicidality flags from item 9 answered alone (the re-ask after a skipped item 9).

    Judged as item 9 of the original check-in: its total (prorated without item 9) decides
    the "item 9 >= 1 with total >= 20" row.
    """
    evidence = {
        "instrument": "PHQ-9 item 9",
        "item9": item9,
        "original_total": original_total,
        "rules_version": RULES_VERSION,
    }
    flag = item9_flag(item9, original_total, evidence, rules=rules)
    return [flag] if flag is not None else []


def item9_reask_unanswered(
    *, asked_at: datetime, now: datetime, rules: EscalationRules = DEFAULTS
) -> Flag | None:
    """High safety_item_unanswered once the one-question re-ask has waited its window."""
    require_aware("asked_at", asked_at)
    require_aware("now", now)
    window = timedelta(hours=ITEM9_REASK_HOURS)
    if now < asked_at + window:
        return None
    evidence = {
        "asked_at": asked_at.isoformat(),
        "window_hours": ITEM9_REASK_HOURS,
        "rules_version": RULES_VERSION,
    }
    return Flag(Kind.SAFETY_ITEM_UNANSWERED, Priority.HIGH, "phq9.item9_reask_unanswered", evidence)
