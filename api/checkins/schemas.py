"""Self-report bodies and answers: shape here, clinical meaning in clinical/."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_dump

from api.fields import (
    AwareDateTime,
    CrisisResources,
    FlagKinds,
    Id,
    NestedFrom,
    ShownDateTime,
    StrictBoolean,
    StrictInteger,
    enum,
)
from clinical import asrm as asrm_scale
from clinical import phq9
from clinical import symptoms as symptom_scale
from clinical.outcomes import BASELINE_SOURCES, RELAPSE_STATUSES
from clinical.rules import KINDS, PRIORITIES

ASRM_RANGE = f"{asrm_scale.ITEM_COUNT} items, each {asrm_scale.ITEM_MIN}-{asrm_scale.ITEM_MAX}"


def _no_nul(value: str) -> None:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail on INSERT.
    if "\x00" in value:
        raise ValidationError("Must not contain NUL characters.")


def _id(description: str) -> Id:
    return Id(load_default=None, allow_none=True, metadata={"description": description})


def _answered_at() -> AwareDateTime:
    return AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "When the patient answered (default: when received); "
            "at most 7 days ago and not in the future."
        },
    )


class Phq9In(Schema):
    """A PHQ-9 check-in: nine answers (at most two skipped) and item 10."""

    answers = fields.List(
        StrictInteger(allow_none=True),
        required=True,
        metadata={
            "description": f"{phq9.ITEM_COUNT} answers, each {phq9.ITEM_MIN}-"
            f"{phq9.ITEM_MAX} or null when skipped (at most {phq9.MAX_SKIPPED})."
        },
    )
    difficulty = StrictInteger(
        load_default=None,
        allow_none=True,
        metadata={"description": "Item 10, how difficult (0-3), not scored."},
    )
    asrm = fields.List(
        StrictInteger(),
        load_default=None,
        allow_none=True,
        metadata={
            "description": f"Optional ASRM ({ASRM_RANGE}), asked of bipolar patients "
            "in maintenance. Answers an `asrm` task: give its `task_id` (or the PHQ-9 "
            "task's beside it) and both tasks close."
        },
    )
    task_id = _id(
        "The task this answers, if any: a `phq9` task, or an `asrm` task when `asrm` is given."
    )
    session_id = _id("The treatment session this follows, if any.")
    answered_at = _answered_at()


SymptomsIn = Schema.from_dict(
    {
        name: StrictInteger(
            required=True,
            metadata={"description": f"{symptom_scale.NONE} none .. {symptom_scale.SEVERE} severe"},
        )
        for name in symptom_scale.SYMPTOMS
    },
    name="SymptomsIn",
)
SymptomsIn.__doc__ = "Each side effect rated 0 (none) to 3 (severe)."


class SymptomReportIn(Schema):
    """A post-session report: side effects, ASRM, suicidal thoughts, seizure, fainting."""

    session_id = _id("The treatment session this report follows.")
    task_id = _id("The task this answers, if any.")
    answered_at = _answered_at()
    symptoms = fields.Nested(SymptomsIn, required=True)
    asrm = fields.List(
        StrictInteger(), required=True, metadata={"description": f"ASRM: {ASRM_RANGE}."}
    )
    suicidal_thoughts = StrictInteger(required=True, metadata={"description": "0-3"})
    seizure = StrictBoolean(required=True)
    fainted = StrictBoolean(required=True)
    notes = fields.String(
        load_default=None,
        allow_none=True,
        validate=_no_nul,
        metadata={"description": f"Free text, at most {symptom_scale.NOTES_MAX_CHARS} characters."},
    )


SEVERITIES = tuple(band for _low, _high, band in phq9.SEVERITY_BANDS)


class RaisedEscalationOut(Schema):
    """The escalation a submission raised or joined."""

    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata=enum(KINDS))
    priority = fields.String(required=True, metadata=enum(PRIORITIES))


class ChangeFromBaselineOut(Schema):
    """Change of the PHQ-9 total from the baseline, in points and percent."""

    points = fields.Integer(required=True)
    percent = fields.Float(required=True, allow_none=True)


class OutcomeSummaryOut(Schema):
    """Outcome definitions v2: response/remission are null (with a reason) without an honest
    baseline of at least 10."""

    @pre_dump
    def _plain(self, outcome: Any, **_: Any) -> Any:
        # A CourseOutcome knows its own JSON form (shared with the reports and FHIR).
        return outcome.as_dict() if hasattr(outcome, "as_dict") else outcome

    baseline = fields.Integer(allow_none=True)
    baseline_source = fields.String(
        allow_none=True,
        metadata=enum(
            (*BASELINE_SOURCES, None), "pre_treatment_phq9 | screening_phq9 | null (no baseline)"
        ),
    )
    baseline_reason = fields.String(allow_none=True)
    latest = fields.Integer(allow_none=True)
    change = fields.Nested(ChangeFromBaselineOut, allow_none=True)
    response = fields.Boolean(allow_none=True)
    response_reason = fields.String(
        allow_none=True,
        metadata={
            "description": "Why response is null: no_phq9_baseline | baseline_below_10 | "
            "no_post_treatment_phq9"
        },
    )
    remission = fields.Boolean(allow_none=True)
    remission_reason = fields.String(allow_none=True)
    relapse = fields.Boolean()
    relapse_status = fields.String(
        metadata=enum(RELAPSE_STATUSES, "none | recheck (one bad total) | confirmed (two in a row)")
    )
    ever_responded = fields.Boolean()
    minimal_important_change = fields.Boolean()
    version = fields.String(metadata={"description": "Outcome definitions version."})


CLINICIANS_ONLY = {"description": "Clinicians only: each rule that fired."}


class FiredRuleOut(Schema):
    """One escalation rule that fired on a self-report."""

    kind = fields.String(required=True, metadata=enum(KINDS))
    priority = fields.String(required=True, metadata=enum(PRIORITIES))
    rule = fields.String(required=True)


def _change(record: Any) -> dict[str, Any] | None:
    if record.change_points is None:
        return None
    return {"points": record.change_points, "percent": record.change_percent}


class Phq9Out(Schema):
    """A scored PHQ-9 , its times in the patient's zone."""

    id = fields.Integer(required=True, attribute="record.id")
    total = fields.Integer(required=True, attribute="record.total")
    prorated = fields.Boolean(required=True, attribute="record.prorated")
    severity = fields.String(required=True, attribute="record.severity", metadata=enum(SEVERITIES))
    item9 = fields.Integer(required=True, allow_none=True, attribute="record.item9")
    flags = FlagKinds(required=True)
    escalation = fields.Nested(RaisedEscalationOut, required=True, allow_none=True)
    crisis_resources = fields.Nested(CrisisResources, required=True, allow_none=True)
    change_from_baseline = fields.Nested(
        ChangeFromBaselineOut, required=True, allow_none=True, attribute="change"
    )
    asrm_total = fields.Integer(allow_none=True, attribute="record.asrm_total")
    answered_at = ShownDateTime(attribute="record.answered_at")
    received_at = ShownDateTime(attribute="record.received_at")
    outcome = fields.Nested(OutcomeSummaryOut)


class SymptomReportOut(Schema):
    """A judged post-session report."""

    id = fields.Integer(required=True, attribute="record.id")
    asrm_total = fields.Integer(required=True, attribute="record.asrm_total")
    flags = FlagKinds(required=True)
    escalation = fields.Nested(RaisedEscalationOut, required=True, allow_none=True)
    crisis_resources = fields.Nested(CrisisResources, required=True, allow_none=True)
    answered_at = ShownDateTime(attribute="record.answered_at")
    received_at = ShownDateTime(attribute="record.received_at")


class CheckinItem(Schema):
    """One stored check-in in a history page."""

    id = fields.Integer(required=True)
    answers = fields.List(fields.Integer(allow_none=True), required=True)
    difficulty = fields.Integer(allow_none=True)
    total = fields.Integer(required=True)
    prorated = fields.Boolean(required=True)
    severity = fields.String(required=True, metadata=enum(SEVERITIES))
    item9 = fields.Integer(allow_none=True)
    asrm = fields.List(fields.Integer(), allow_none=True, attribute="asrm_answers")
    asrm_total = fields.Integer(allow_none=True)
    flags = FlagKinds(required=True)
    change_from_baseline = NestedFrom(ChangeFromBaselineOut, source=_change, allow_none=True)
    task_id = fields.Integer(allow_none=True)
    session_id = fields.Integer(allow_none=True)
    answered_at = ShownDateTime(required=True)
    received_at = ShownDateTime(required=True)


class RatedCheckinItem(CheckinItem):
    """A stored check-in as its clinicians see it: with each rule that fired."""

    flag_details = fields.List(
        fields.Nested(FiredRuleOut), attribute="flags", dump_only=True, metadata=CLINICIANS_ONLY
    )


class SymptomReportItem(Schema):
    """One stored post-session report in a history page."""

    id = fields.Integer(required=True)
    symptoms = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    asrm = fields.List(fields.Integer(), required=True, attribute="asrm_answers")
    asrm_total = fields.Integer(required=True)
    suicidal_thoughts = fields.Integer(required=True)
    seizure = fields.Boolean(required=True)
    fainted = fields.Boolean(required=True)
    notes = fields.String(allow_none=True)
    flags = FlagKinds(required=True)
    task_id = fields.Integer(allow_none=True)
    session_id = fields.Integer(allow_none=True)
    answered_at = ShownDateTime(required=True)
    received_at = ShownDateTime(required=True)


class RatedSymptomReportItem(SymptomReportItem):
    """A stored post-session report as its clinicians see it: with each rule that fired."""

    flag_details = fields.List(
        fields.Nested(FiredRuleOut), attribute="flags", dump_only=True, metadata=CLINICIANS_ONLY
    )


class CheckinPage(Schema):
    """A page of the signed-in patient's own check-ins."""

    items = fields.List(fields.Nested(CheckinItem), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class RatedCheckinPage(Schema):
    """A page of a patient's check-ins, for their clinicians."""

    items = fields.List(fields.Nested(RatedCheckinItem), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class SymptomReportPage(Schema):
    """A page of the signed-in patient's own post-session reports."""

    items = fields.List(fields.Nested(SymptomReportItem), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class RatedSymptomReportPage(Schema):
    """A page of a patient's post-session reports, for their clinicians."""

    items = fields.List(fields.Nested(RatedSymptomReportItem), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class LatestCheckin(Schema):
    """The latest PHQ-9 check-in."""

    id = fields.Integer(required=True)
    total = fields.Integer(required=True)
    severity = fields.String(required=True, metadata=enum(SEVERITIES))
    item9 = fields.Integer(allow_none=True)
    asrm_total = fields.Integer(allow_none=True)
    answered_at = ShownDateTime(required=True)


class LatestReport(Schema):
    """The latest post-session report."""

    id = fields.Integer(required=True)
    asrm_total = fields.Integer(required=True)
    suicidal_thoughts = fields.Integer(required=True)
    flags = FlagKinds(required=True)
    answered_at = ShownDateTime(required=True)


class LatestScores(Schema):
    """The latest check-in and post-session report."""

    phq9 = fields.Nested(LatestCheckin, allow_none=True, attribute="latest_checkin")
    symptom_report = fields.Nested(LatestReport, allow_none=True, attribute="latest_report")


class NextSessionOut(Schema):
    """When the next maintenance session falls due."""

    due_at = ShownDateTime(required=True)


def _next_session(standing: Any) -> dict[str, Any] | None:
    due = standing.next_session_due_at
    return None if due is None else {"due_at": due}


class StandingOut(Schema):
    """Sessions, next session, latest scores and outcome of one patient (a Standing)."""

    sessions_given = fields.Integer(required=True)
    last_session_at = ShownDateTime(required=True, allow_none=True)
    next_session = NestedFrom(
        NextSessionOut,
        source=_next_session,
        required=True,
        allow_none=True,
        metadata={"description": "When the next maintenance session falls due, when known."},
    )
    latest_scores = NestedFrom(LatestScores, source=lambda standing: standing, required=True)
    outcome = fields.Nested(OutcomeSummaryOut, required=True)
