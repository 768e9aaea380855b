"""Flags from a post-session report: suicidal thoughts, mania (ASRM) and adverse events.

ASRM >= 6 screens positive for mania (Altman 1997) and is urgent for bipolar patients
(manic-switch risk).
"""

from __future__ import annotations

from clinical.asrm import AsrmScore
from clinical.rules.flags import Flag, highest_per_kind, priority_rank
from clinical.rules.settings import DEFAULTS, RULES_VERSION, EscalationRules
from clinical.rules.suicidality import suicidal_thoughts_flag
from clinical.symptoms import SymptomReport, severe_symptoms
from clinical.vocabulary import Kind, Priority


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
    thoughts = report.suicidal_thoughts
    thoughts_evidence = {"suicidal_thoughts": thoughts, "rules_version": RULES_VERSION}
    flags: list[Flag] = []
    suicidality = suicidal_thoughts_flag(thoughts, thoughts_evidence, rules=rules)
    if suicidality is not None:
        flags.append(suicidality)
    flags.extend(asrm_flags(report.asrm, bipolar=bipolar, rules=rules))
    adverse = _adverse_event(report, rules)
    if adverse is not None:
        flags.append(adverse)
    return highest_per_kind(flags)


def _adverse_event(report: SymptomReport, rules: EscalationRules) -> Flag | None:
    """One adverse_event flag for every reason at once, at the priority of the worst."""
    severe = severe_symptoms(report, level=rules.adverse_symptom_level)
    reasons: list[tuple[str, str, str]] = []  # (priority, rule, reason)
    if report.seizure:
        reasons.append((Priority.URGENT, "report.seizure", "seizure"))
    if report.fainted:
        reasons.append((Priority.HIGH, "report.fainted", "fainted"))
    if severe:
        rule = f"report.symptom>={rules.adverse_symptom_level}"
        reasons.extend((Priority.HIGH, rule, f"symptom:{name}") for name in severe)
    if not reasons:
        return None
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
    return Flag(Kind.ADVERSE_EVENT, top[0], top[1], evidence)
