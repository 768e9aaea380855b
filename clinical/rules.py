"""Escalation rules: which answers, readings and gaps raise a flag, of what kind and priority.

Defaults follow the table in the project's clinical reference; every threshold lives in
EscalationRules so a clinic can override it. PHQ-9 item 9 predicts suicide attempts
independently of the total (Simon et al. 2013), so it is judged on its own; ASRM >= 6 screens
positive for mania (Altman 1997) and is urgent for bipolar patients (manic-switch risk). The
180/110 blood-pressure limit is a clinic setting, not a published standard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from clinical._checks import is_strict_int, require_aware
from clinical.asrm import AsrmScore
from clinical.calendar import MAINTENANCE_GRACE_DAYS
from clinical.errors import InvalidInput
from clinical.outcomes import RESPONSE_REDUCTION, change_from_baseline, is_relapse
from clinical.phq9 import Phq9Score
from clinical.symptoms import SEVERE, SymptomReport, severe_symptoms

RULES_VERSION = "rules-1"

SUICIDALITY = "suicidality"
MANIA = "mania"
SEVERE_DEPRESSION = "severe_depression"
WORSENING = "worsening"
RELAPSE = "relapse"
ADVERSE_EVENT = "adverse_event"
HYPERTENSION = "hypertension"
SAFETY_ITEM_UNANSWERED = "safety_item_unanswered"
MAINTENANCE_OVERDUE = "maintenance_overdue"
KINDS: tuple[str, ...] = (
    SUICIDALITY,
    MANIA,
    SEVERE_DEPRESSION,
    WORSENING,
    RELAPSE,
    ADVERSE_EVENT,
    HYPERTENSION,
    SAFETY_ITEM_UNANSWERED,
    MAINTENANCE_OVERDUE,
)

URGENT = "urgent"
HIGH = "high"
ROUTINE = "routine"
PRIORITIES: tuple[str, ...] = (URGENT, HIGH, ROUTINE)
_RANKS = {URGENT: 3, HIGH: 2, ROUTINE: 1}


def priority_rank(priority: str) -> int:
    """Sortable rank of a priority: urgent 3 > high 2 > routine 1."""
    try:
        return _RANKS[priority]
    except KeyError:
        raise ValueError(f"Unknown priority {priority!r}.") from None


def _bounds(low: int, high: int) -> dict[str, Any]:
    return {"bounds": (low, high)}


@dataclass(frozen=True, slots=True)
class EscalationRules:
    """Every escalation threshold; defaults are the product's, clinics may override any."""

    item9_urgent: int = field(default=2, metadata=_bounds(1, 3))
    item9_high: int = field(default=1, metadata=_bounds(1, 3))
    item9_with_total_urgent_total: int = field(default=20, metadata=_bounds(0, 27))
    suicidal_thoughts_urgent: int = field(default=2, metadata=_bounds(1, 3))
    suicidal_thoughts_high: int = field(default=1, metadata=_bounds(1, 3))
    asrm_cutoff: int = field(default=6, metadata=_bounds(1, 20))
    severe_depression_total: int = field(default=20, metadata=_bounds(1, 27))
    worsening_points: int = field(default=5, metadata=_bounds(1, 27))
    relapse_min_total: int = field(default=10, metadata=_bounds(1, 27))
    systolic_limit: int = field(default=180, metadata=_bounds(90, 300))
    diastolic_limit: int = field(default=110, metadata=_bounds(50, 200))
    maintenance_grace_days: int = field(default=MAINTENANCE_GRACE_DAYS, metadata=_bounds(0, 28))
    adverse_symptom_level: int = field(default=SEVERE, metadata=_bounds(1, 3))

    def __post_init__(self) -> None:
        errors = _check_rules({f.name: getattr(self, f.name) for f in fields(self)})
        if errors:
            raise InvalidInput(errors)

    @classmethod
    def from_mapping(cls, data: object, *, path: str = "") -> EscalationRules:
        """Defaults overridden by `data`; unknown keys and bad values raise InvalidInput."""
        prefix = f"{path}." if path else ""
        if not isinstance(data, Mapping):
            raise InvalidInput({path or "rules": ["Expected an object of rule settings."]})
        known = {f.name for f in fields(cls)}
        errors: dict[str, list[str]] = {
            f"{prefix}{key}": ["Unknown setting."] for key in data if key not in known
        }
        merged: dict[str, object] = {
            **cls().as_dict(),
            **{k: v for k, v in data.items() if k in known},
        }
        errors.update({f"{prefix}{k}": m for k, m in _check_rules(merged).items()})
        if errors:
            raise InvalidInput(errors)
        return cls(**merged)  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, int]:
        """JSON-ready form."""
        return asdict(self)


def _check_rules(values: Mapping[str, object]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for f in fields(EscalationRules):
        low, high = f.metadata["bounds"]
        value = values.get(f.name)
        if not is_strict_int(value) or not low <= value <= high:
            errors[f.name] = [f"Must be an integer from {low} to {high}."]
    pairs = (("item9_high", "item9_urgent"), ("suicidal_thoughts_high", "suicidal_thoughts_urgent"))
    for lower, upper in pairs:
        a, b = values.get(lower), values.get(upper)
        checkable = lower not in errors and upper not in errors
        if checkable and is_strict_int(a) and is_strict_int(b) and a > b:
            errors[lower] = [f"Must not be greater than {upper} ({b})."]
    return errors


DEFAULTS = EscalationRules()


@dataclass(frozen=True, slots=True)
class Flag:
    """A rule that fired: kind, priority, stable rule id and JSON-able evidence."""

    kind: str
    priority: str
    rule: str
    evidence: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": self.kind,
            "priority": self.priority,
            "rule": self.rule,
            "evidence": self.evidence,
        }


@dataclass(frozen=True, slots=True)
class VitalsReading:
    """One blood-pressure and heart-rate reading taken during a session."""

    at: datetime
    systolic: int
    diastolic: int
    heart_rate: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "at": self.at.isoformat(),
            "systolic": self.systolic,
            "diastolic": self.diastolic,
            "heart_rate": self.heart_rate,
        }


def highest_per_kind(flags: Sequence[Flag]) -> list[Flag]:
    """Keep one flag per kind (the highest priority, first wins ties), most urgent first."""
    best: dict[str, Flag] = {}
    for flag in flags:
        current = best.get(flag.kind)
        if current is None or priority_rank(flag.priority) > priority_rank(current.priority):
            best[flag.kind] = flag
    order = {kind: index for index, kind in enumerate(KINDS)}
    return sorted(
        best.values(),
        key=lambda f: (-priority_rank(f.priority), order.get(f.kind, len(order)), f.rule),
    )


def _phq9_evidence(score: Phq9Score) -> dict[str, Any]:
    return {
        "instrument": "PHQ-9",
        "version": score.version,
        "answers": list(score.answers),
        "total": score.total,
        "prorated": score.prorated,
        "item9": score.item9,
        "rules_version": RULES_VERSION,
    }


def phq9_flags(
    score: Phq9Score,
    *,
    previous_total: int | None,
    baseline: int | None,
    ever_responded: bool,
    rules: EscalationRules = DEFAULTS,
) -> list[Flag]:
    """Flags from one scored PHQ-9; `ever_responded` refers to check-ins before this one."""
    flags: list[Flag] = []
    item9, total = score.item9, score.total

    def evidence(**extra: Any) -> dict[str, Any]:
        return {**_phq9_evidence(score), **extra}

    if item9 is not None and item9 >= rules.item9_urgent:
        flags.append(Flag(SUICIDALITY, URGENT, f"phq9.item9>={rules.item9_urgent}", evidence()))
    elif (
        item9 is not None
        and item9 >= rules.item9_high
        and total >= rules.item9_with_total_urgent_total
    ):
        rule = f"phq9.item9>={rules.item9_high}&total>={rules.item9_with_total_urgent_total}"
        flags.append(Flag(SUICIDALITY, URGENT, rule, evidence()))
    elif item9 is not None and item9 >= rules.item9_high:
        flags.append(Flag(SUICIDALITY, HIGH, f"phq9.item9>={rules.item9_high}", evidence()))

    # "Without item 9": only when no suicidality flag already covers the high total.
    suicidality_raised = any(f.kind == SUICIDALITY for f in flags)
    if total >= rules.severe_depression_total and not suicidality_raised:
        rule = f"phq9.total>={rules.severe_depression_total}"
        flags.append(Flag(SEVERE_DEPRESSION, HIGH, rule, evidence()))

    if previous_total is not None and total - previous_total >= rules.worsening_points:
        rise = evidence(previous_total=previous_total, rise=total - previous_total)
        flags.append(Flag(WORSENING, ROUTINE, f"phq9.rise>={rules.worsening_points}", rise))

    if is_relapse(
        baseline=baseline,
        total=total,
        responded_before=ever_responded,
        min_total=rules.relapse_min_total,
    ):
        change = change_from_baseline(baseline=baseline, current=total)
        relapse = evidence(
            baseline=baseline,
            change=change.as_dict() if change is not None else None,
            ever_responded=True,
        )
        percent = round(RESPONSE_REDUCTION * 100)
        rule = f"phq9.relapse:total>={rules.relapse_min_total}&reduction<{percent}%"
        flags.append(Flag(RELAPSE, HIGH, rule, relapse))

    if item9 is None:
        flags.append(Flag(SAFETY_ITEM_UNANSWERED, ROUTINE, "phq9.item9_skipped", evidence()))
    return highest_per_kind(flags)


def asrm_flags(score: AsrmScore, *, bipolar: bool, rules: EscalationRules = DEFAULTS) -> list[Flag]:
    """Mania flag when the ASRM total reaches the cutoff: urgent for bipolar patients."""
    if score.total < rules.asrm_cutoff:
        return []
    evidence = {
        "instrument": "ASRM",
        "version": score.version,
        "answers": list(score.answers),
        "total": score.total,
        "bipolar": bipolar,
        "rules_version": RULES_VERSION,
    }
    rule = f"asrm.total>={rules.asrm_cutoff}" + ("&bipolar" if bipolar else "")
    return [Flag(MANIA, URGENT if bipolar else HIGH, rule, evidence)]


def symptom_report_flags(
    report: SymptomReport, *, bipolar: bool, rules: EscalationRules = DEFAULTS
) -> list[Flag]:
    """Flags from a post-session report: suicidality, mania and one adverse_event flag."""
    flags: list[Flag] = []
    thoughts = report.suicidal_thoughts
    thoughts_evidence = {"suicidal_thoughts": thoughts, "rules_version": RULES_VERSION}
    if thoughts >= rules.suicidal_thoughts_urgent:
        rule = f"report.suicidal_thoughts>={rules.suicidal_thoughts_urgent}"
        flags.append(Flag(SUICIDALITY, URGENT, rule, thoughts_evidence))
    elif thoughts >= rules.suicidal_thoughts_high:
        rule = f"report.suicidal_thoughts>={rules.suicidal_thoughts_high}"
        flags.append(Flag(SUICIDALITY, HIGH, rule, thoughts_evidence))

    flags.extend(asrm_flags(report.asrm, bipolar=bipolar, rules=rules))

    severe = severe_symptoms(report, level=rules.adverse_symptom_level)
    reasons: list[tuple[str, str, str]] = []  # (priority, rule, reason)
    if report.seizure:
        reasons.append((URGENT, "report.seizure", "seizure"))
    if report.fainted:
        reasons.append((HIGH, "report.fainted", "fainted"))
    if severe:
        rule = f"report.symptom>={rules.adverse_symptom_level}"
        reasons.extend((HIGH, rule, f"symptom:{name}") for name in severe)
    if reasons:
        top = max(reasons, key=lambda r: priority_rank(r[0]))
        evidence = {
            "reasons": [reason for _, _, reason in reasons],
            "rules": list(dict.fromkeys(rule for _, rule, _ in reasons)),
            "seizure": report.seizure,
            "fainted": report.fainted,
            "severe_symptoms": severe,
            "symptoms": dict(report.symptoms),
            "rules_version": RULES_VERSION,
        }
        flags.append(Flag(ADVERSE_EVENT, top[0], top[1], evidence))
    return highest_per_kind(flags)


def vitals_flags(
    readings: Sequence[VitalsReading], rules: EscalationRules = DEFAULTS
) -> list[Flag]:
    """Hypertension flag (urgent) listing every reading at or above either limit."""
    offending = [
        r
        for r in readings
        if r.systolic >= rules.systolic_limit or r.diastolic >= rules.diastolic_limit
    ]
    if not offending:
        return []
    evidence = {
        "readings": [r.as_dict() for r in offending],
        "systolic_limit": rules.systolic_limit,
        "diastolic_limit": rules.diastolic_limit,
        "max_systolic": max(r.systolic for r in offending),
        "max_diastolic": max(r.diastolic for r in offending),
        "rules_version": RULES_VERSION,
    }
    rule = f"vitals.systolic>={rules.systolic_limit}|diastolic>={rules.diastolic_limit}"
    return [Flag(HYPERTENSION, URGENT, rule, evidence)]


def maintenance_overdue(
    *,
    last_session_at: datetime,
    interval_days: int,
    now: datetime,
    rules: EscalationRules = DEFAULTS,
) -> Flag | None:
    """Routine flag once `now` reaches last session + interval + grace days with no session."""
    require_aware("last_session_at", last_session_at)
    require_aware("now", now)
    due_at = last_session_at + timedelta(days=interval_days)
    overdue_at = due_at + timedelta(days=rules.maintenance_grace_days)
    if now < overdue_at:
        return None
    evidence = {
        "last_session_at": last_session_at.isoformat(),
        "interval_days": interval_days,
        "grace_days": rules.maintenance_grace_days,
        "due_at": due_at.isoformat(),
        "overdue_at": overdue_at.isoformat(),
        "days_late": (now - due_at).days,
        "rules_version": RULES_VERSION,
    }
    rule = f"maintenance.unrecorded>=interval+{rules.maintenance_grace_days}d"
    return Flag(MAINTENANCE_OVERDUE, ROUTINE, rule, evidence)


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
    flags: list[Flag] = []
    if item9 is not None:
        with_total = (
            phq9_total is not None
            and item9 >= rules.item9_high
            and phq9_total >= rules.item9_with_total_urgent_total
        )
        if item9 >= rules.item9_urgent:
            rule = f"refused.phq9.item9>={rules.item9_urgent}"
            flags.append(Flag(SUICIDALITY, URGENT, rule, {"instrument": "PHQ-9", **evidence}))
        elif with_total:
            rule = (
                f"refused.phq9.item9>={rules.item9_high}"
                f"&total>={rules.item9_with_total_urgent_total}"
            )
            flags.append(Flag(SUICIDALITY, URGENT, rule, {"instrument": "PHQ-9", **evidence}))
        elif item9 >= rules.item9_high:
            rule = f"refused.phq9.item9>={rules.item9_high}"
            flags.append(Flag(SUICIDALITY, HIGH, rule, {"instrument": "PHQ-9", **evidence}))
    if suicidal_thoughts is not None:
        report = {"instrument": "post-session report", **evidence}
        if suicidal_thoughts >= rules.suicidal_thoughts_urgent:
            rule = f"refused.report.suicidal_thoughts>={rules.suicidal_thoughts_urgent}"
            flags.append(Flag(SUICIDALITY, URGENT, rule, report))
        elif suicidal_thoughts >= rules.suicidal_thoughts_high:
            rule = f"refused.report.suicidal_thoughts>={rules.suicidal_thoughts_high}"
            flags.append(Flag(SUICIDALITY, HIGH, rule, report))
    return highest_per_kind(flags)
