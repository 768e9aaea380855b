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
from decimal import Decimal
from itertools import pairwise
from typing import Any

from clinical import outcomes
from clinical._checks import is_strict_int, require_aware
from clinical.asrm import AsrmScore
from clinical.calendar import MAINTENANCE_GRACE_DAYS
from clinical.errors import InvalidInput
from clinical.outcomes import RESPONSE_REDUCTION, change_from_baseline
from clinical.phq9 import Phq9Score
from clinical.symptoms import SEVERE, SymptomReport, severe_symptoms
from clinical.vocabulary import Kind, Priority
from clinical.worsening import worsening

# Second version (December 2026): safety floors, relapse confirmed on a second total, worsening
# against the baseline too, item 9 skipped judged by the total, live vitals. Stored flags and
# escalations keep the version they were made under.
RULES_VERSION = "rules-2"

# In the order the rules rank kinds (their declaration order).
KINDS: tuple[str, ...] = tuple(Kind)

# The one-question re-ask after a skipped item 9 is open this long.
ITEM9_REASK_HOURS = 24

PRIORITIES: tuple[str, ...] = tuple(Priority)
_RANKS: dict[str, int] = {Priority.URGENT: 3, Priority.HIGH: 2, Priority.ROUTINE: 1}


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

    # Bounds are the safety floors: a clinic may be stricter than the default, never looser.
    # Item 9 >= 1 is always at least high and >= 2 always urgent; the same for suicidal_thoughts.
    item9_urgent: int = field(default=2, metadata=_bounds(1, 2))
    item9_high: int = field(default=1, metadata=_bounds(1, 1))
    item9_with_total_urgent_total: int = field(default=20, metadata=_bounds(0, 20))
    suicidal_thoughts_urgent: int = field(default=2, metadata=_bounds(1, 2))
    suicidal_thoughts_high: int = field(default=1, metadata=_bounds(1, 1))
    asrm_cutoff: int = field(default=6, metadata=_bounds(1, 6))
    severe_depression_total: int = field(default=20, metadata=_bounds(1, 27))
    worsening_points: int = field(default=5, metadata=_bounds(1, 27))
    relapse_min_total: int = field(default=10, metadata=_bounds(1, 27))
    systolic_limit: int = field(default=180, metadata=_bounds(90, 180))
    diastolic_limit: int = field(default=110, metadata=_bounds(50, 110))
    maintenance_grace_days: int = field(default=MAINTENANCE_GRACE_DAYS, metadata=_bounds(0, 28))
    adverse_symptom_level: int = field(default=SEVERE, metadata=_bounds(1, 3))
    # Live monitoring (rules-2). Pre-dose care threshold: the esketamine label's 140/90.
    pre_dose_warn_systolic: int = field(default=140, metadata=_bounds(90, 140))
    pre_dose_warn_diastolic: int = field(default=90, metadata=_bounds(50, 90))
    heart_rate_low: int = field(default=50, metadata=_bounds(50, 80))
    heart_rate_high: int = field(default=120, metadata=_bounds(80, 120))
    spo2_low: int = field(default=92, metadata=_bounds(92, 99))
    # Readings every 15 minutes (seed) plus 5 minutes' grace before the clinician is texted.
    vitals_overdue_minutes: int = field(default=20, metadata=_bounds(5, 20))
    # The acute pace is 3 a week: more than this many days without a session breaks it.
    acute_gap_days: int = field(default=4, metadata=_bounds(1, 4))
    # Item 9 skipped: high when the total reaches this, or the re-ask goes unanswered.
    item9_skipped_high_total: int = field(default=15, metadata=_bounds(0, 15))
    # Eligibility: baseline severity at least moderate (a clinic may require more).
    eligibility_min_phq9: int = field(default=10, metadata=_bounds(10, 27))
    eligibility_min_madrs: int = field(default=20, metadata=_bounds(20, 60))

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
            errors[f.name] = [
                f"Must be an integer from {low} to {high} (the default is {f.default}; "
                "safety floors allow stricter settings only)."
            ]
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
    spo2: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "at": self.at.isoformat(),
            "systolic": self.systolic,
            "diastolic": self.diastolic,
            "heart_rate": self.heart_rate,
            "spo2": self.spo2,
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
    relapse: str = outcomes.RELAPSE_NONE,
    rules: EscalationRules = DEFAULTS,
) -> list[Flag]:
    """Flags from one scored PHQ-9 (rules-2).

    `baseline` is the PHQ-9 baseline to measure worsening against (None for a pre-treatment
    check-in, which is itself a baseline); `relapse` is outcomes.relapse_status() of this total.
    """
    flags: list[Flag] = []
    item9, total = score.item9, score.total

    def evidence(**extra: Any) -> dict[str, Any]:
        return {**_phq9_evidence(score), **extra}

    if item9 is not None and item9 >= rules.item9_urgent:
        flags.append(
            Flag(Kind.SUICIDALITY, Priority.URGENT, f"phq9.item9>={rules.item9_urgent}", evidence())
        )
    elif (
        item9 is not None
        and item9 >= rules.item9_high
        and total >= rules.item9_with_total_urgent_total
    ):
        rule = f"phq9.item9>={rules.item9_high}&total>={rules.item9_with_total_urgent_total}"
        flags.append(Flag(Kind.SUICIDALITY, Priority.URGENT, rule, evidence()))
    elif item9 is not None and item9 >= rules.item9_high:
        flags.append(
            Flag(Kind.SUICIDALITY, Priority.HIGH, f"phq9.item9>={rules.item9_high}", evidence())
        )

    # "Without item 9": only when no suicidality flag already covers the high total.
    suicidality_raised = any(f.kind == Kind.SUICIDALITY for f in flags)
    if total >= rules.severe_depression_total and not suicidality_raised:
        rule = f"phq9.total>={rules.severe_depression_total}"
        flags.append(Flag(Kind.SEVERE_DEPRESSION, Priority.HIGH, rule, evidence()))

    base = outcomes.Baseline(
        score=baseline,
        source=None,
        at=None,
        reason=None if baseline is not None else outcomes.NO_PHQ9_BASELINE,
    )
    worse = worsening(
        baseline=base, previous_total=previous_total, total=total, points=rules.worsening_points
    )
    if worse is not None:
        rise = evidence(
            previous_total=previous_total,
            baseline=baseline,
            rise=total - previous_total if previous_total is not None else None,
            against=list(worse.against),
            definition=worse.version,
        )
        rule = "|".join(f"phq9.total>={name}+{rules.worsening_points}" for name in worse.against)
        flags.append(Flag(Kind.WORSENING, Priority.ROUTINE, rule, rise))

    if relapse != outcomes.RELAPSE_NONE:
        change = change_from_baseline(baseline=baseline, current=total)
        relapse_evidence = evidence(
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
        flags.append(
            Flag(
                Kind.RELAPSE,
                Priority.HIGH if confirmed else Priority.ROUTINE,
                rule,
                relapse_evidence,
            )
        )

    if item9 is None:
        # The patient may be withholding: a high total makes the silence more worrying.
        high = total >= rules.item9_skipped_high_total
        rule = "phq9.item9_skipped" + (f"&total>={rules.item9_skipped_high_total}" if high else "")
        flags.append(
            Flag(
                Kind.SAFETY_ITEM_UNANSWERED,
                Priority.HIGH if high else Priority.ROUTINE,
                rule,
                evidence(),
            )
        )
    return highest_per_kind(flags)


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
    if item9 >= rules.item9_urgent:
        return [
            Flag(Kind.SUICIDALITY, Priority.URGENT, f"phq9.item9>={rules.item9_urgent}", evidence)
        ]
    if item9 >= rules.item9_high and original_total >= rules.item9_with_total_urgent_total:
        rule = f"phq9.item9>={rules.item9_high}&total>={rules.item9_with_total_urgent_total}"
        return [Flag(Kind.SUICIDALITY, Priority.URGENT, rule, evidence)]
    if item9 >= rules.item9_high:
        return [Flag(Kind.SUICIDALITY, Priority.HIGH, f"phq9.item9>={rules.item9_high}", evidence)]
    return []


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
    return [Flag(Kind.MANIA, Priority.URGENT if bipolar else Priority.HIGH, rule, evidence)]


def symptom_report_flags(
    report: SymptomReport, *, bipolar: bool, rules: EscalationRules = DEFAULTS
) -> list[Flag]:
    """Flags from a post-session report: suicidality, mania and one adverse_event flag."""
    flags: list[Flag] = []
    thoughts = report.suicidal_thoughts
    thoughts_evidence = {"suicidal_thoughts": thoughts, "rules_version": RULES_VERSION}
    if thoughts >= rules.suicidal_thoughts_urgent:
        rule = f"report.suicidal_thoughts>={rules.suicidal_thoughts_urgent}"
        flags.append(Flag(Kind.SUICIDALITY, Priority.URGENT, rule, thoughts_evidence))
    elif thoughts >= rules.suicidal_thoughts_high:
        rule = f"report.suicidal_thoughts>={rules.suicidal_thoughts_high}"
        flags.append(Flag(Kind.SUICIDALITY, Priority.HIGH, rule, thoughts_evidence))

    flags.extend(asrm_flags(report.asrm, bipolar=bipolar, rules=rules))

    severe = severe_symptoms(report, level=rules.adverse_symptom_level)
    reasons: list[tuple[str, str, str]] = []  # (priority, rule, reason)
    if report.seizure:
        reasons.append((Priority.URGENT, "report.seizure", "seizure"))
    if report.fainted:
        reasons.append((Priority.HIGH, "report.fainted", "fainted"))
    if severe:
        rule = f"report.symptom>={rules.adverse_symptom_level}"
        reasons.extend((Priority.HIGH, rule, f"symptom:{name}") for name in severe)
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
        flags.append(Flag(Kind.ADVERSE_EVENT, top[0], top[1], evidence))
    return highest_per_kind(flags)


def _hypertensive(r: VitalsReading, rules: EscalationRules) -> bool:
    return r.systolic >= rules.systolic_limit or r.diastolic >= rules.diastolic_limit


def _heart_rate_off(r: VitalsReading, rules: EscalationRules) -> bool:
    return r.heart_rate is not None and (
        r.heart_rate < rules.heart_rate_low or r.heart_rate > rules.heart_rate_high
    )


def _desaturated(r: VitalsReading, rules: EscalationRules) -> bool:
    return r.spo2 is not None and r.spo2 < rules.spo2_low


def vitals_flags(
    readings: Sequence[VitalsReading], rules: EscalationRules = DEFAULTS
) -> list[Flag]:
    """Flags from session readings: hypertension (urgent), vital_signs (high), respiratory (urgent).

    Each flag lists every reading past its limit. Used for a back-filled session (all readings
    at once) and for one live reading as it arrives (a list of one).
    """
    flags: list[Flag] = []
    offending = [r for r in readings if _hypertensive(r, rules)]
    if offending:
        evidence = {
            "readings": [r.as_dict() for r in offending],
            "systolic_limit": rules.systolic_limit,
            "diastolic_limit": rules.diastolic_limit,
            "max_systolic": max(r.systolic for r in offending),
            "max_diastolic": max(r.diastolic for r in offending),
            "rules_version": RULES_VERSION,
        }
        rule = f"vitals.systolic>={rules.systolic_limit}|diastolic>={rules.diastolic_limit}"
        flags.append(Flag(Kind.HYPERTENSION, Priority.URGENT, rule, evidence))
    pulse = [r for r in readings if _heart_rate_off(r, rules)]
    if pulse:
        evidence = {
            "readings": [r.as_dict() for r in pulse],
            "heart_rate_low": rules.heart_rate_low,
            "heart_rate_high": rules.heart_rate_high,
            "rules_version": RULES_VERSION,
        }
        rule = f"vitals.heart_rate<{rules.heart_rate_low}|heart_rate>{rules.heart_rate_high}"
        flags.append(Flag(Kind.VITAL_SIGNS, Priority.HIGH, rule, evidence))
    oxygen = [r for r in readings if _desaturated(r, rules)]
    if oxygen:
        evidence = {
            "readings": [r.as_dict() for r in oxygen],
            "spo2_low": rules.spo2_low,
            "min_spo2": min(r.spo2 for r in oxygen if r.spo2 is not None),
            "rules_version": RULES_VERSION,
        }
        flags.append(
            Flag(Kind.RESPIRATORY, Priority.URGENT, f"vitals.spo2<{rules.spo2_low}", evidence)
        )
    return highest_per_kind(flags)


PRE_DOSE_BLOOD_PRESSURE = "pre_dose_blood_pressure"


def pre_dose_warnings(
    readings: Sequence[VitalsReading], *, started_at: datetime, rules: EscalationRules = DEFAULTS
) -> list[dict[str, Any]]:
    """Warnings for readings taken at or before the start that reach the pre-dose care limit.

    The esketamine label asks for care above about 140/90 before dosing: the clinician weighs
    the risk (a warning, not a block). At the hypertension limit vitals_flags() pages instead.
    """
    require_aware("started_at", started_at)
    warnings: list[dict[str, Any]] = []
    for r in readings:
        if r.at > started_at or _hypertensive(r, rules):
            continue
        if (
            r.systolic >= rules.pre_dose_warn_systolic
            or r.diastolic >= rules.pre_dose_warn_diastolic
        ):
            warnings.append(
                {
                    "code": PRE_DOSE_BLOOD_PRESSURE,
                    "at": r.at.isoformat(),
                    "detail": (
                        "Pre-dose blood pressure at or above "
                        f"{rules.pre_dose_warn_systolic}/{rules.pre_dose_warn_diastolic}: "
                        "weigh the risk before dosing."
                    ),
                    "rules_version": RULES_VERSION,
                }
            )
    return warnings


# --- Deviations from the protocol: recorded, never blocked -----------------------------------

DEVIATIONS_VERSION = "deviations-1"
VITALS_GAP = "vitals_gap"
DOSE_OFF_PROTOCOL = "dose_off_protocol"
INFUSION_DURATION = "infusion_duration"
DEVIATION_KINDS: tuple[str, ...] = (VITALS_GAP, DOSE_OFF_PROTOCOL, INFUSION_DURATION)
# Seed: blood pressure and heart rate every 15 minutes during the infusion.
VITALS_INTERVAL = timedelta(minutes=15)
PROTOCOL_DOSE = Decimal("0.5")
DOSE_TOLERANCE = Decimal("0.1")  # +- 10 % of 0.5 mg/kg
# The seed gives both 20-minute and 40-60-minute infusions: the span of the two is accepted.
INFUSION_MIN_MINUTES = 20
INFUSION_MAX_MINUTES = 60


@dataclass(frozen=True, slots=True)
class Deviation:
    """One departure from the protocol, with what was seen."""

    kind: str
    detail: dict[str, Any]
    version: str = DEVIATIONS_VERSION

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"kind": self.kind, "detail": self.detail, "version": self.version}


def _vitals_gaps(
    started_at: datetime, infusion_minutes: int | None, readings: Sequence[VitalsReading]
) -> list[dict[str, Any]]:
    """Stretches of the infusion longer than VITALS_INTERVAL without a reading.

    The stretch is measured from the last reading at or before the start (else the start
    itself) through every reading inside the infusion to the first reading at or after its end
    (else the end itself).
    """
    if infusion_minutes is None or infusion_minutes <= 0:
        return []
    end = started_at + timedelta(minutes=infusion_minutes)
    times = sorted(r.at for r in readings)
    before = [t for t in times if t <= started_at]
    after = [t for t in times if t >= end]
    points = [
        before[-1] if before else started_at,
        *(t for t in times if started_at < t < end),
        after[0] if after else end,
    ]
    return [
        {"from": a.isoformat(), "to": b.isoformat(), "minutes": (b - a).total_seconds() / 60}
        for a, b in pairwise(points)
        if b - a > VITALS_INTERVAL
    ]


def session_deviations(
    *,
    started_at: datetime,
    ketamine_mg_per_kg: float | None,
    ketamine_infusion_minutes: int | None,
    readings: Sequence[VitalsReading],
) -> list[Deviation]:
    """The session's vitals_gap, dose_off_protocol and infusion_duration deviations."""
    require_aware("started_at", started_at)
    found: list[Deviation] = []
    gaps = _vitals_gaps(started_at, ketamine_infusion_minutes, readings)
    if gaps:
        found.append(
            Deviation(VITALS_GAP, {"gaps": gaps, "max_minutes": VITALS_INTERVAL.seconds // 60})
        )
    if ketamine_mg_per_kg is not None:
        dose = Decimal(str(ketamine_mg_per_kg))
        if abs(dose - PROTOCOL_DOSE) > PROTOCOL_DOSE * DOSE_TOLERANCE:
            found.append(
                Deviation(
                    DOSE_OFF_PROTOCOL,
                    {"mg_per_kg": ketamine_mg_per_kg, "protocol": 0.5, "tolerance_percent": 10},
                )
            )
    if ketamine_infusion_minutes is not None and not (
        INFUSION_MIN_MINUTES <= ketamine_infusion_minutes <= INFUSION_MAX_MINUTES
    ):
        found.append(
            Deviation(
                INFUSION_DURATION,
                {
                    "minutes": ketamine_infusion_minutes,
                    "min": INFUSION_MIN_MINUTES,
                    "max": INFUSION_MAX_MINUTES,
                },
            )
        )
    return found


# --- Timers: live readings, the acute pace -----------------------------------------------------


def reading_due_since(
    *,
    started_at: datetime,
    last_reading_at: datetime | None,
    now: datetime,
    rules: EscalationRules = DEFAULTS,
) -> datetime | None:
    """The time the next reading fell due, once it is overdue (more than the limit old).

    A live session's last reading (or its start, before any) older than
    `vitals_overdue_minutes` means a reading is due; None while it is not.
    """
    require_aware("started_at", started_at)
    require_aware("now", now)
    anchor = max(started_at, last_reading_at) if last_reading_at is not None else started_at
    if now - anchor > timedelta(minutes=rules.vitals_overdue_minutes):
        return anchor + VITALS_INTERVAL
    return None


def vitals_overdue_flag(
    *, session_id: int, anchor: datetime, now: datetime, rules: EscalationRules = DEFAULTS
) -> Flag:
    """Routine vitals_overdue inbox item for a live session whose reading is late."""
    evidence = {
        "session_id": session_id,
        "last_reading_or_start": anchor.isoformat(),
        "minutes_since": int((now - anchor).total_seconds() // 60),
        "limit_minutes": rules.vitals_overdue_minutes,
        "rules_version": RULES_VERSION,
    }
    return Flag(
        Kind.VITALS_OVERDUE,
        Priority.ROUTINE,
        f"vitals.last_reading>{rules.vitals_overdue_minutes}min",
        evidence,
    )


def acute_session_missed(
    *, last_session_at: datetime, now: datetime, rules: EscalationRules = DEFAULTS
) -> Flag | None:
    """Routine flag when an acute-phase patient has gone more than acute_gap_days without one."""
    require_aware("last_session_at", last_session_at)
    require_aware("now", now)
    if now - last_session_at <= timedelta(days=rules.acute_gap_days):
        return None
    evidence = {
        "last_session_at": last_session_at.isoformat(),
        "gap_days_limit": rules.acute_gap_days,
        "days_since": (now - last_session_at).days,
        "rules_version": RULES_VERSION,
    }
    return Flag(
        Kind.ACUTE_SESSION_MISSED,
        Priority.ROUTINE,
        f"acute.no_session>{rules.acute_gap_days}d",
        evidence,
    )


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
    return Flag(Kind.MAINTENANCE_OVERDUE, Priority.ROUTINE, rule, evidence)


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
            flags.append(
                Flag(Kind.SUICIDALITY, Priority.URGENT, rule, {"instrument": "PHQ-9", **evidence})
            )
        elif with_total:
            rule = (
                f"refused.phq9.item9>={rules.item9_high}"
                f"&total>={rules.item9_with_total_urgent_total}"
            )
            flags.append(
                Flag(Kind.SUICIDALITY, Priority.URGENT, rule, {"instrument": "PHQ-9", **evidence})
            )
        elif item9 >= rules.item9_high:
            rule = f"refused.phq9.item9>={rules.item9_high}"
            flags.append(
                Flag(Kind.SUICIDALITY, Priority.HIGH, rule, {"instrument": "PHQ-9", **evidence})
            )
    if suicidal_thoughts is not None:
        report = {"instrument": "post-session report", **evidence}
        if suicidal_thoughts >= rules.suicidal_thoughts_urgent:
            rule = f"refused.report.suicidal_thoughts>={rules.suicidal_thoughts_urgent}"
            flags.append(Flag(Kind.SUICIDALITY, Priority.URGENT, rule, report))
        elif suicidal_thoughts >= rules.suicidal_thoughts_high:
            rule = f"refused.report.suicidal_thoughts>={rules.suicidal_thoughts_high}"
            flags.append(Flag(Kind.SUICIDALITY, Priority.HIGH, rule, report))
    return highest_per_kind(flags)
