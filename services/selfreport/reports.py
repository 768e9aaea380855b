"""Post-session symptom reports (with the ASRM): validated, stored, escalated.

A report answers its session's report task and the ASRM mood check with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from clinical import crisis, rules
from clinical import symptoms as symptom_scale
from services import escalations
from services.escalations import EscalationRef
from services.selfreport.submission import (
    ASRM_TASK,
    answer_time,
    check_session,
    complete_task,
    escalate_and_audit,
    patient_and_clinic,
    validated,
)
from store.models import PatientProfile, User
from store.reports import SymptomReportRecord

REPORT_SOURCE = "symptom_report"
REPORT_TASK = "symptom_report"


@dataclass(frozen=True, slots=True)
class SymptomReportResult:
    """A stored post-session report and what the patient is told about it."""

    record: SymptomReportRecord
    flags: list[rules.Flag]
    escalation: EscalationRef | None
    crisis_resources: dict[str, Any] | None
    timezone: str


def submit_symptom_report(
    session: Session,
    *,
    patient: User,
    symptoms: Mapping[str, object],
    asrm: Sequence[object],
    suicidal_thoughts: object,
    seizure: object,
    fainted: object,
    notes: object = None,
    task_id: int | None = None,
    session_id: int | None = None,
    answered_at: datetime | None = None,
    now: datetime,
) -> SymptomReportResult:
    """Validate, store and escalate a post-session report in this transaction."""
    report, when = _checked(
        symptoms, asrm, suicidal_thoughts, seizure, fainted, notes, answered_at=answered_at, now=now
    )
    resources = crisis.crisis_resources_for(suicidal_thoughts=report.suicidal_thoughts)

    profile, clinic = patient_and_clinic(session, patient=patient)
    check_session(session, patient_id=profile.user_id, session_id=session_id)
    complete_task(
        session, profile=profile, task_id=task_id, kind=REPORT_TASK, also=(ASRM_TASK,), now=now
    )
    found = rules.symptom_report_flags(
        report, bipolar=profile.bipolar, rules=escalations.clinic_rules(clinic)
    )
    record = _report(
        profile=profile,
        report=report,
        flags=found,
        task_id=task_id,
        session_id=session_id,
        answered_at=when,
        now=now,
    )
    session.add(record)
    session.flush()
    escalation = escalate_and_audit(
        session,
        patient=patient,
        profile=profile,
        flags=found,
        source_type=REPORT_SOURCE,
        record_id=record.id,
        action="symptom_report.create",
        target_type="symptom_report",
        now=now,
    )
    return SymptomReportResult(
        record=record,
        flags=found,
        escalation=escalation,
        crisis_resources=resources,
        timezone=profile.timezone,
    )


def _checked(
    symptoms: Mapping[str, object],
    asrm: Sequence[object],
    suicidal_thoughts: object,
    seizure: object,
    fainted: object,
    notes: object,
    *,
    answered_at: datetime | None,
    now: datetime,
) -> tuple[symptom_scale.SymptomReport, datetime]:
    """The validated report and the answer time, or one 422 with every problem."""
    checked = validated(
        (
            "report",
            lambda: symptom_scale.score_symptom_report(
                symptoms=symptoms,
                asrm=asrm,
                suicidal_thoughts=suicidal_thoughts,
                seizure=seizure,
                fainted=fainted,
                notes=notes,
            ),
        ),
        ("answered_at", lambda: answer_time(answered_at, now=now)),
    )
    return checked["report"], checked["answered_at"]


def _report(
    *,
    profile: PatientProfile,
    report: symptom_scale.SymptomReport,
    flags: list[rules.Flag],
    task_id: int | None,
    session_id: int | None,
    answered_at: datetime,
    now: datetime,
) -> SymptomReportRecord:
    """The report row as stored: symptoms, ASRM, safety answers and flags."""
    return SymptomReportRecord(
        patient_id=profile.user_id,
        clinic_id=profile.clinic_id,
        symptoms=dict(report.symptoms),
        asrm_answers=list(report.asrm.answers),
        asrm_total=report.asrm.total,
        suicidal_thoughts=report.suicidal_thoughts,
        seizure=report.seizure,
        fainted=report.fainted,
        notes=report.notes,
        flags=[flag.as_dict() for flag in flags],
        instrument_version=f"{report.version}+{report.asrm.version}",
        rules_version=rules.RULES_VERSION,
        task_id=task_id,
        session_id=session_id,
        answered_at=answered_at,
        received_at=now,
    )
