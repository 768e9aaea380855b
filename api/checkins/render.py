"""Self-report records as the API shows them; patients see times in their own time zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from clinical.outcomes import CourseOutcome
from services.escalations import EscalationRef
from services.selfreport import Phq9Result, Standing, SymptomReportResult
from store.reports import Phq9Checkin, SymptomReportRecord


def shown(moment: datetime | None, tz: ZoneInfo | None) -> datetime | None:
    """`moment` in the viewer's zone (patients), else as stored (UTC)."""
    if moment is None or tz is None:
        return moment
    return moment.astimezone(tz)


def _kinds(flags: list[Any]) -> list[str]:
    return [str(flag["kind"]) for flag in flags]


def _details(flags: list[Any]) -> list[dict[str, Any]]:
    return [{"kind": f["kind"], "priority": f["priority"], "rule": f["rule"]} for f in flags]


def _escalation(ref: EscalationRef | None) -> dict[str, Any] | None:
    return None if ref is None else {"id": ref.id, "kind": ref.kind, "priority": ref.priority}


def outcome_out(summary: CourseOutcome) -> dict[str, Any]:
    return summary.as_dict()


def phq9_result_out(result: Phq9Result, tz: ZoneInfo | None) -> dict[str, Any]:
    record = result.record
    return {
        "id": record.id,
        "total": record.total,
        "prorated": record.prorated,
        "severity": record.severity,
        "item9": record.item9,
        "flags": [flag.kind for flag in result.flags],
        "escalation": _escalation(result.escalation),
        "crisis_resources": result.crisis_resources,
        "change_from_baseline": result.change.as_dict() if result.change is not None else None,
        "asrm_total": record.asrm_total,
        "answered_at": shown(record.answered_at, tz),
        "received_at": shown(record.received_at, tz),
        "outcome": outcome_out(result.outcome),
    }


def symptom_report_result_out(result: SymptomReportResult, tz: ZoneInfo | None) -> dict[str, Any]:
    record = result.record
    return {
        "id": record.id,
        "asrm_total": record.asrm_total,
        "flags": [flag.kind for flag in result.flags],
        "escalation": _escalation(result.escalation),
        "crisis_resources": result.crisis_resources,
        "answered_at": shown(record.answered_at, tz),
        "received_at": shown(record.received_at, tz),
    }


def checkin_out(record: Phq9Checkin, tz: ZoneInfo | None, *, clinician: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": record.id,
        "answers": record.answers,
        "difficulty": record.difficulty,
        "total": record.total,
        "prorated": record.prorated,
        "severity": record.severity,
        "item9": record.item9,
        "asrm": record.asrm_answers,
        "asrm_total": record.asrm_total,
        "flags": _kinds(record.flags),
        "change_from_baseline": (
            {"points": record.change_points, "percent": record.change_percent}
            if record.change_points is not None
            else None
        ),
        "task_id": record.task_id,
        "session_id": record.session_id,
        "answered_at": shown(record.answered_at, tz),
        "received_at": shown(record.received_at, tz),
    }
    if clinician:
        out["flag_details"] = _details(record.flags)
    return out


def symptom_report_out(
    record: SymptomReportRecord, tz: ZoneInfo | None, *, clinician: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": record.id,
        "symptoms": record.symptoms,
        "asrm": record.asrm_answers,
        "asrm_total": record.asrm_total,
        "suicidal_thoughts": record.suicidal_thoughts,
        "seizure": record.seizure,
        "fainted": record.fainted,
        "notes": record.notes,
        "flags": _kinds(record.flags),
        "task_id": record.task_id,
        "session_id": record.session_id,
        "answered_at": shown(record.answered_at, tz),
        "received_at": shown(record.received_at, tz),
    }
    if clinician:
        out["flag_details"] = _details(record.flags)
    return out


def latest_scores_out(standing: Standing, tz: ZoneInfo | None) -> dict[str, Any]:
    checkin, report = standing.latest_checkin, standing.latest_report
    return {
        "phq9": None
        if checkin is None
        else {
            "id": checkin.id,
            "total": checkin.total,
            "severity": checkin.severity,
            "item9": checkin.item9,
            "asrm_total": checkin.asrm_total,
            "answered_at": shown(checkin.answered_at, tz),
        },
        "symptom_report": None
        if report is None
        else {
            "id": report.id,
            "asrm_total": report.asrm_total,
            "suicidal_thoughts": report.suicidal_thoughts,
            "flags": _kinds(report.flags),
            "answered_at": shown(report.answered_at, tz),
        },
    }


def standing_out(standing: Standing, tz: ZoneInfo | None) -> dict[str, Any]:
    """Sessions, next session, latest scores and outcome of one patient."""
    return {
        "sessions_given": standing.sessions_given,
        "last_session_at": shown(standing.last_session_at, tz),
        "next_session": (
            {"due_at": shown(standing.next_session_due_at, tz)}
            if standing.next_session_due_at is not None
            else None
        ),
        "latest_scores": latest_scores_out(standing, tz),
        "outcome": outcome_out(standing.outcome),
    }
