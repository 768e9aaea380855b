"""PHQ-9 check-ins (with the ASRM when given): scored, placed in the course, stored, escalated.

A check-in also settles its follow-ups: it answers any open relapse re-check, and opens a
re-check after a first bad total, or asks item 9 again when it was skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from clinical import asrm as asrm_scale
from clinical import crisis, phq9, rules
from clinical import outcomes as course_outcomes
from clinical.outcomes import ChangeFromBaseline, CourseOutcome, change_from_baseline
from services import escalations, outcomes, schedule
from services.escalations import EscalationRef
from services.selfreport.submission import (
    ASRM_TASK,
    answer_time,
    check_session,
    complete_task,
    escalate_and_audit,
    patient_clinic_and_prior,
    validated,
)
from store.models import Clinic, PatientProfile, User
from store.reports import Phq9Checkin

PHQ9_SOURCE = "phq9"
PHQ9_TASK = "phq9"


@dataclass(frozen=True, slots=True)
class Phq9Result:
    """A stored check-in and what the patient is told about it."""

    record: Phq9Checkin
    flags: list[rules.Flag]
    escalation: EscalationRef | None
    crisis_resources: dict[str, Any] | None
    change: ChangeFromBaseline | None
    outcome: CourseOutcome
    timezone: str


@dataclass(frozen=True, slots=True)
class _Position:
    """Where this check-in falls in the patient's course of treatment."""

    baseline: course_outcomes.Baseline
    post_treatment: bool
    relapse: str
    # The post-treatment totals in answered order, this one last when it is post-treatment.
    totals: list[int]


def submit_phq9(
    session: Session,
    *,
    patient: User,
    answers: Sequence[object],
    difficulty: object = None,
    asrm: Sequence[object] | None = None,
    task_id: int | None = None,
    session_id: int | None = None,
    answered_at: datetime | None = None,
    now: datetime,
) -> Phq9Result:
    """Score, store and escalate a PHQ-9 (with the ASRM when given) in this transaction."""
    score, mania, when = _checked(answers, difficulty, asrm, answered_at=answered_at, now=now)
    # Decided from the answers alone, before any rule, store or page can fail. A skipped
    # item 9 gets them too: the patient may be withholding (rules-2).
    resources = crisis.crisis_resources_for(item9=score.item9, item9_skipped=score.item9 is None)

    profile, clinic, prior = patient_clinic_and_prior(session, patient=patient, before=when)
    check_session(session, patient_id=profile.user_id, session_id=session_id)
    also = (ASRM_TASK,) if mania is not None else ()
    complete_task(session, profile=profile, task_id=task_id, kind=PHQ9_TASK, also=also, now=now)

    position = _position_in_course(session, profile=profile, when=when, total=score.total)
    found = _flags(score, mania, profile=profile, clinic=clinic, prior=prior, position=position)
    change = change_from_baseline(baseline=position.baseline.score, current=score.total)
    summary = course_outcomes.summarize_course(baseline=position.baseline, totals=position.totals)

    record = _store_checkin(
        session,
        profile=profile,
        score=score,
        mania=mania,
        flags=found,
        change=change,
        summary=summary,
        position=position,
        task_id=task_id,
        session_id=session_id,
        answered_at=when,
        now=now,
    )
    _open_follow_ups(
        session,
        profile=profile,
        record=record,
        relapse=position.relapse,
        item9_skipped=score.item9 is None,
        now=now,
    )
    escalation = escalate_and_audit(
        session,
        patient=patient,
        profile=profile,
        flags=found,
        source_type=PHQ9_SOURCE,
        record_id=record.id,
        action="checkin.create",
        target_type="phq9_checkin",
        now=now,
    )
    return Phq9Result(
        record=record,
        flags=found,
        escalation=escalation,
        crisis_resources=resources,
        change=change,
        outcome=summary,
        timezone=profile.timezone,
    )


def _checked(
    answers: Sequence[object],
    difficulty: object,
    asrm: Sequence[object] | None,
    *,
    answered_at: datetime | None,
    now: datetime,
) -> tuple[phq9.Phq9Score, asrm_scale.AsrmScore | None, datetime]:
    """The scored PHQ-9, the scored ASRM (when given) and the answer time, or one 422."""
    checked = validated(
        ("score", lambda: phq9.score_phq9(answers, difficulty)),
        ("asrm", lambda: asrm_scale.score_asrm(asrm) if asrm is not None else None),
        ("answered_at", lambda: answer_time(answered_at, now=now)),
    )
    return checked["score"], checked["asrm"], checked["answered_at"]


def _position_in_course(
    session: Session, *, profile: PatientProfile, when: datetime, total: int
) -> _Position:
    """The check-in's baseline, whether treatment has begun, and its relapse status."""
    # Outcome definitions v2: the baseline is the latest PHQ-9 before the first session (this
    # one too, when it is pre-treatment), else the screening's PHQ-9; never a later check-in.
    this = course_outcomes.Phq9Point(at=when, total=total)
    history = outcomes.course(session, profile=profile, before=when, extra=[this])
    baseline = history.baseline
    started = history.first_session_at
    post_treatment = started is not None and when >= started
    earlier = course_outcomes.post_treatment_totals(history.points[:-1], first_session_at=started)
    relapse = (
        course_outcomes.relapse_status(baseline=baseline, earlier_totals=earlier, total=total)
        if post_treatment
        else course_outcomes.RELAPSE_NONE
    )
    return _Position(
        baseline=baseline,
        post_treatment=post_treatment,
        relapse=relapse,
        totals=[*earlier, total] if post_treatment else earlier,
    )


def _flags(
    score: phq9.Phq9Score,
    mania: asrm_scale.AsrmScore | None,
    *,
    profile: PatientProfile,
    clinic: Clinic,
    prior: outcomes.PriorTotals,
    position: _Position,
) -> list[rules.Flag]:
    """The clinic's rules over the PHQ-9 and, when given, the ASRM (highest per kind)."""
    clinic_rules = escalations.clinic_rules(clinic)
    found = rules.phq9_flags(
        score,
        previous_total=prior.previous,
        # A pre-treatment check-in is itself a baseline: worse than it is not "worse than before".
        baseline=position.baseline.score if position.post_treatment else None,
        relapse=position.relapse,
        rules=clinic_rules,
    )
    if mania is not None:
        found = rules.highest_per_kind(
            [*found, *rules.asrm_flags(mania, bipolar=profile.bipolar, rules=clinic_rules)]
        )
    return found


def _store_checkin(
    session: Session,
    *,
    profile: PatientProfile,
    score: phq9.Phq9Score,
    mania: asrm_scale.AsrmScore | None,
    flags: list[rules.Flag],
    change: ChangeFromBaseline | None,
    summary: CourseOutcome,
    position: _Position,
    task_id: int | None,
    session_id: int | None,
    answered_at: datetime,
    now: datetime,
) -> Phq9Checkin:
    """Store the check-in row (flushed, so it has its id): answers, scores, flags, outcome."""
    record = Phq9Checkin(
        patient_id=profile.user_id,
        clinic_id=profile.clinic_id,
        answers=list(score.answers),
        difficulty=score.difficulty,
        total=score.total,
        prorated=score.prorated,
        answered_count=score.answered,
        severity=score.severity,
        item9=score.item9,
        asrm_answers=list(mania.answers) if mania is not None else None,
        asrm_total=mania.total if mania is not None else None,
        flags=[flag.as_dict() for flag in flags],
        change_points=change.points if change is not None else None,
        change_percent=change.percent if change is not None else None,
        instrument_version=(score.version if mania is None else f"{score.version}+{mania.version}"),
        rules_version=rules.RULES_VERSION,
        outcome={
            **summary.as_dict(),
            "baseline_detail": position.baseline.as_dict(),
            "post_treatment": position.post_treatment,
        },
        task_id=task_id,
        session_id=session_id,
        answered_at=answered_at,
        received_at=now,
    )
    session.add(record)
    session.flush()
    return record


def _open_follow_ups(
    session: Session,
    *,
    profile: PatientProfile,
    record: Phq9Checkin,
    relapse: str,
    item9_skipped: bool,
    now: datetime,
) -> None:
    """Close open relapse re-checks; open a re-check or an item-9 question when one is due."""
    # Any PHQ-9 answers an open relapse re-check; a new bad total opens one.
    schedule.close_open_tasks(
        session, patient_id=profile.user_id, key_prefix=schedule.RECHECK_PREFIX, now=now
    )
    if relapse == course_outcomes.RELAPSE_RECHECK:
        schedule.open_adhoc_task(
            session,
            patient=profile,
            key=f"{schedule.RECHECK_PREFIX}{record.id}",
            kind=PHQ9_TASK,
            reason="PHQ-9 re-check",
            due_at=now,
            window=schedule.RECHECK_WINDOW,
            now=now,
        )
    if item9_skipped:
        schedule.open_adhoc_task(
            session,
            patient=profile,
            key=f"{schedule.ITEM9_PREFIX}{record.id}",
            kind=schedule.TASK_ITEM9,
            reason="One question asked again",
            due_at=now,
            window=schedule.ITEM9_WINDOW,
            now=now,
        )
