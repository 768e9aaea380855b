"""Patient self-report: PHQ-9 check-ins and post-session symptom reports, scored and escalated.

One submission is one transaction: score, check, store, run the clinic's rules and raise the
escalations (which queue their pages in the outbox). Crisis resources are decided from the
answers alone, before anything else, so the patient gets them whatever happens to the pages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from clinical import asrm as asrm_scale
from clinical import crisis, phq9, rules
from clinical import outcomes as course_outcomes
from clinical import symptoms as symptom_scale
from clinical.errors import InvalidInput
from clinical.outcomes import ChangeFromBaseline, CourseOutcome, change_from_baseline
from services import audit, escalations, outcomes, schedule
from services.errors import Forbidden, Invalid, NotFound
from services.escalations import EscalationRef
from services.pagination import paginate
from services.patients import get_patient
from store.models import Clinic, PatientProfile, User
from store.reports import Phq9Checkin, SymptomReportRecord
from store.schedule import TreatmentSession

# A phone's clock may run a little fast; anything later than this is refused.
CLOCK_SKEW = timedelta(minutes=5)
# Answers older than this are no longer a check-in about "the last two weeks" as scheduled.
MAX_ANSWER_AGE = timedelta(days=7)

PHQ9_SOURCE = "phq9"
REPORT_SOURCE = "symptom_report"
PHQ9_TASK = "phq9"
REPORT_TASK = "symptom_report"
# The mood check a bipolar patient is asked beside a PHQ-9: answered by any submission that
# carries the five ASRM items (a PHQ-9 with `asrm`, or a post-session report).
ASRM_TASK = "asrm"

T = TypeVar("T")


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
class SymptomReportResult:
    """A stored post-session report and what the patient is told about it."""

    record: SymptomReportRecord
    flags: list[rules.Flag]
    escalation: EscalationRef | None
    crisis_resources: dict[str, Any] | None
    timezone: str


@dataclass(frozen=True, slots=True)
class History(Generic[T]):
    """One page of a patient's records, and the patient's time zone to show them in."""

    items: list[T]
    next_cursor: str | None
    timezone: str


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a patient is now: latest scores, outcome, and the session plan."""

    profile: PatientProfile
    latest_checkin: Phq9Checkin | None
    latest_report: SymptomReportRecord | None
    outcome: CourseOutcome
    sessions_given: int
    last_session_at: datetime | None
    next_session_due_at: datetime | None


_PATIENT_AND_CLINIC = (
    select(PatientProfile, Clinic)
    .join(Clinic, Clinic.id == PatientProfile.clinic_id)
    .where(PatientProfile.user_id == bindparam("patient_id"))
)
# The same with the patient's earlier totals, so a check-in reads all it needs at once.
_PATIENT_CLINIC_AND_PRIOR = _PATIENT_AND_CLINIC.add_columns(*outcomes.PRIOR_TOTAL_COLUMNS)


def _patient_and_clinic(session: Session, *, patient: User) -> tuple[PatientProfile, Clinic]:
    """The submitting patient's profile and clinic."""
    _only_patients(patient)
    row = session.execute(_PATIENT_AND_CLINIC, {"patient_id": patient.id}).first()
    if row is None:
        raise NotFound("No such patient.")
    return row[0], row[1]


def _patient_clinic_and_prior(
    session: Session, *, patient: User, before: datetime
) -> tuple[PatientProfile, Clinic, outcomes.PriorTotals]:
    """The submitting patient's profile, clinic and totals answered up to `before`."""
    _only_patients(patient)
    params = {
        "patient_id": patient.id,
        **outcomes.prior_params(patient_id=patient.id, before=before),
    }
    row = session.execute(_PATIENT_CLINIC_AND_PRIOR, params).first()
    if row is None:
        raise NotFound("No such patient.")
    return row[0], row[1], outcomes.prior_totals_from(tuple(row[2:]))


def _only_patients(user: User) -> None:
    if user.role != "patient":
        raise Forbidden("Only patients submit check-ins and reports.")


def _answered_at(answered_at: datetime | None, *, now: datetime) -> datetime:
    """The time the patient answered: given (within the allowed window) or now."""
    if answered_at is None:
        return now
    if answered_at > now + CLOCK_SKEW:
        raise Invalid({"answered_at": ["Must not be in the future."]})
    if answered_at < now - MAX_ANSWER_AGE:
        raise Invalid({"answered_at": [f"Must be within the last {MAX_ANSWER_AGE.days} days."]})
    return answered_at


def _check_session(session: Session, *, patient_id: int, session_id: int | None) -> None:
    """404 unless the treatment session is this patient's."""
    if session_id is None:
        return
    found = session.scalar(
        select(TreatmentSession.id).where(
            TreatmentSession.id == session_id, TreatmentSession.patient_id == patient_id
        )
    )
    if found is None:
        raise NotFound("No such treatment session.")


def _validated(*checks: tuple[str, Any]) -> dict[str, Any]:
    """Run each (name, thunk) check and collect every InvalidInput/Invalid into one 422."""
    errors: dict[str, list[str]] = {}
    results: dict[str, Any] = {}
    for name, check in checks:
        try:
            results[name] = check()
        except (InvalidInput, Invalid) as error:
            for path, messages in error.errors.items():
                errors.setdefault(path, []).extend(messages)
    if errors:
        raise Invalid(errors)
    return results


def _escalate(
    session: Session,
    *,
    profile: PatientProfile,
    flags: Sequence[rules.Flag],
    source_type: str,
    source_id: int | None,
    now: datetime,
) -> EscalationRef | None:
    if not flags:
        return None
    refs = escalations.raise_escalations(
        session,
        patient=profile,
        flags=flags,
        source_type=source_type,
        source_id=source_id,
        now=now,
    )
    return refs[0] if refs else None


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
    checked = _validated(
        ("score", lambda: phq9.score_phq9(answers, difficulty)),
        ("asrm", lambda: asrm_scale.score_asrm(asrm) if asrm is not None else None),
        ("answered_at", lambda: _answered_at(answered_at, now=now)),
    )
    score: phq9.Phq9Score = checked["score"]
    mania: asrm_scale.AsrmScore | None = checked["asrm"]
    when: datetime = checked["answered_at"]
    # Decided from the answers alone, before any rule, store or page can fail. A skipped
    # item 9 gets them too: the patient may be withholding (rules-2).
    resources = crisis.crisis_resources_for(item9=score.item9, item9_skipped=score.item9 is None)

    profile, clinic, prior = _patient_clinic_and_prior(session, patient=patient, before=when)
    _check_session(session, patient_id=profile.user_id, session_id=session_id)
    if task_id is not None:
        schedule.complete_task(
            session,
            patient_id=profile.user_id,
            task_id=task_id,
            kind=PHQ9_TASK,
            also=(ASRM_TASK,) if mania is not None else (),
            now=now,
        )

    # Outcome definitions v2: the baseline is the latest PHQ-9 before the first session (this
    # one too, when it is pre-treatment), else the screening's PHQ-9; never a later check-in.
    this = course_outcomes.Phq9Point(at=when, total=score.total)
    history = outcomes.course(session, profile=profile, before=when, extra=[this])
    baseline = history.baseline
    started = history.first_session_at
    post_treatment = started is not None and when >= started
    earlier = course_outcomes.post_treatment_totals(history.points[:-1], first_session_at=started)
    relapse = (
        course_outcomes.relapse_status(baseline=baseline, earlier_totals=earlier, total=score.total)
        if post_treatment
        else course_outcomes.RELAPSE_NONE
    )
    clinic_rules = escalations.clinic_rules(clinic)
    found = rules.phq9_flags(
        score,
        previous_total=prior.previous,
        # A pre-treatment check-in is itself a baseline: worse than it is not "worse than before".
        baseline=baseline.score if post_treatment else None,
        relapse=relapse,
        rules=clinic_rules,
    )
    if mania is not None:
        found = rules.highest_per_kind(
            [*found, *rules.asrm_flags(mania, bipolar=profile.bipolar, rules=clinic_rules)]
        )
    change = change_from_baseline(baseline=baseline.score, current=score.total)
    summary = course_outcomes.summarize_course(
        baseline=baseline, totals=[*earlier, score.total] if post_treatment else earlier
    )

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
        flags=[flag.as_dict() for flag in found],
        change_points=change.points if change is not None else None,
        change_percent=change.percent if change is not None else None,
        instrument_version=(score.version if mania is None else f"{score.version}+{mania.version}"),
        rules_version=rules.RULES_VERSION,
        outcome={
            **summary.as_dict(),
            "baseline_detail": baseline.as_dict(),
            "post_treatment": post_treatment,
        },
        task_id=task_id,
        session_id=session_id,
        answered_at=when,
        received_at=now,
    )
    session.add(record)
    session.flush()
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
    if score.item9 is None:
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
    escalation = _escalate(
        session, profile=profile, flags=found, source_type=PHQ9_SOURCE, source_id=record.id, now=now
    )
    audit.record(
        session,
        actor=patient,
        action="checkin.create",
        target_type="phq9_checkin",
        target_id=record.id,
        patient_id=profile.user_id,
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
    checked = _validated(
        (
            "report",
            lambda: _score_report(symptoms, asrm, suicidal_thoughts, seizure, fainted, notes),
        ),
        ("answered_at", lambda: _answered_at(answered_at, now=now)),
    )
    report: symptom_scale.SymptomReport = checked["report"]
    when: datetime = checked["answered_at"]
    resources = crisis.crisis_resources_for(suicidal_thoughts=report.suicidal_thoughts)

    profile, clinic = _patient_and_clinic(session, patient=patient)
    _check_session(session, patient_id=profile.user_id, session_id=session_id)
    if task_id is not None:
        schedule.complete_task(
            session,
            patient_id=profile.user_id,
            task_id=task_id,
            kind=REPORT_TASK,
            also=(ASRM_TASK,),
            now=now,
        )
    found = rules.symptom_report_flags(
        report, bipolar=profile.bipolar, rules=escalations.clinic_rules(clinic)
    )
    record = SymptomReportRecord(
        patient_id=profile.user_id,
        clinic_id=profile.clinic_id,
        symptoms=dict(report.symptoms),
        asrm_answers=list(report.asrm.answers),
        asrm_total=report.asrm.total,
        suicidal_thoughts=report.suicidal_thoughts,
        seizure=report.seizure,
        fainted=report.fainted,
        notes=report.notes,
        flags=[flag.as_dict() for flag in found],
        instrument_version=f"{report.version}+{report.asrm.version}",
        rules_version=rules.RULES_VERSION,
        task_id=task_id,
        session_id=session_id,
        answered_at=when,
        received_at=now,
    )
    session.add(record)
    session.flush()
    escalation = _escalate(
        session,
        profile=profile,
        flags=found,
        source_type=REPORT_SOURCE,
        source_id=record.id,
        now=now,
    )
    audit.record(
        session,
        actor=patient,
        action="symptom_report.create",
        target_type="symptom_report",
        target_id=record.id,
        patient_id=profile.user_id,
        now=now,
    )
    return SymptomReportResult(
        record=record,
        flags=found,
        escalation=escalation,
        crisis_resources=resources,
        timezone=profile.timezone,
    )


def _score_report(
    symptom_values: Mapping[str, object],
    asrm: Sequence[object],
    suicidal_thoughts: object,
    seizure: object,
    fainted: object,
    notes: object,
) -> symptom_scale.SymptomReport:
    return symptom_scale.score_symptom_report(
        symptoms=symptom_values,
        asrm=asrm,
        suicidal_thoughts=suicidal_thoughts,
        seizure=seizure,
        fainted=fainted,
        notes=notes,
    )


def _visible_patient(session: Session, *, viewer: User, patient_id: int) -> PatientProfile:
    """The patient if the viewer may see them: themselves, or one of their clinic's."""
    if viewer.role == "patient":
        profile = session.get(PatientProfile, viewer.id)
        if profile is None or patient_id != viewer.id:
            raise NotFound("No such patient.")
        return profile
    if viewer.role == "clinician":
        return get_patient(session, viewer=viewer, patient_id=patient_id)
    raise NotFound("No such patient.")


def checkin_history(
    session: Session,
    *,
    viewer: User,
    patient_id: int,
    limit: int,
    cursor: str | None,
    now: datetime | None = None,
) -> History[Phq9Checkin]:
    """A patient's PHQ-9 check-ins, newest first (audited)."""
    profile = _visible_patient(session, viewer=viewer, patient_id=patient_id)
    audit.record_reads(session, actor=viewer, what="checkins", patient_ids=[patient_id], now=now)
    query = select(Phq9Checkin).where(Phq9Checkin.patient_id == patient_id)
    page = paginate(session, query, key=Phq9Checkin.id, limit=limit, cursor=cursor)
    return History(items=page.items, next_cursor=page.next_cursor, timezone=profile.timezone)


def symptom_report_history(
    session: Session,
    *,
    viewer: User,
    patient_id: int,
    limit: int,
    cursor: str | None,
    now: datetime | None = None,
) -> History[SymptomReportRecord]:
    """A patient's post-session reports, newest first (audited)."""
    profile = _visible_patient(session, viewer=viewer, patient_id=patient_id)
    audit.record_reads(
        session, actor=viewer, what="symptom_reports", patient_ids=[patient_id], now=now
    )
    query = select(SymptomReportRecord).where(SymptomReportRecord.patient_id == patient_id)
    page = paginate(session, query, key=SymptomReportRecord.id, limit=limit, cursor=cursor)
    return History(items=page.items, next_cursor=page.next_cursor, timezone=profile.timezone)


def standing(session: Session, *, profile: PatientProfile) -> Standing:
    """Latest scores, outcome summary and session plan of one patient."""
    sessions_given, last_session_at = session.execute(
        select(func.count(TreatmentSession.id), func.max(TreatmentSession.started_at)).where(
            TreatmentSession.patient_id == profile.user_id
        )
    ).one()
    return Standing(
        profile=profile,
        latest_checkin=outcomes.latest_checkin(session, patient_id=profile.user_id),
        latest_report=outcomes.latest_symptom_report(session, patient_id=profile.user_id),
        outcome=outcomes.course_summary(session, profile=profile),
        sessions_given=int(sessions_given or 0),
        last_session_at=last_session_at,
        next_session_due_at=profile.maintenance_due_at,
    )


def patient_standing(
    session: Session, *, viewer: User, patient_id: int, now: datetime | None = None
) -> Standing:
    """A patient of the clinician's clinic with latest scores and outcome (404 otherwise)."""
    profile = get_patient(session, viewer=viewer, patient_id=patient_id)
    audit.record_reads(session, actor=viewer, what="patient", patient_ids=[patient_id], now=now)
    return standing(session, profile=profile)


def my_standing(session: Session, *, patient: User, now: datetime | None = None) -> Standing:
    """The signed-in patient's profile, plan, latest scores and outcome (audited)."""
    profile = _visible_patient(session, viewer=patient, patient_id=patient.id)
    audit.record_reads(session, actor=patient, what="patient", patient_ids=[patient.id], now=now)
    return standing(session, profile=profile)


def record_refused_signal(
    session: Session,
    *,
    patient_id: int,
    source_type: str,
    item9: int | None,
    phq9_total: int | None,
    suicidal_thoughts: int | None,
    refusal_status: int,
    now: datetime,
) -> EscalationRef | None:
    """Put a refused self-report's readable suicidality answer on a suicidality escalation.

    The caller runs this in a unit of work of its own, after the refused submission's
    transaction has ended, so the refusal (or the failure) cannot undo it. Only an active
    patient's own signal counts; None when there is nothing to record.
    """
    row = session.execute(_PATIENT_AND_CLINIC, {"patient_id": patient_id}).first()
    user = session.get(User, patient_id)
    if row is None or user is None or not user.is_active or user.deleted_at is not None:
        return None
    profile, clinic = row[0], row[1]
    found = rules.refused_report_flags(
        item9=item9,
        phq9_total=phq9_total,
        suicidal_thoughts=suicidal_thoughts,
        refusal_status=refusal_status,
        rules=escalations.clinic_rules(clinic),
    )
    if not found:
        return None
    ref = _escalate(
        session, profile=profile, flags=found, source_type=source_type, source_id=None, now=now
    )
    audit.record(
        session,
        actor=user,
        action="selfreport.refused_signal_recorded",
        target_type="escalation",
        target_id=ref.id if ref else None,
        clinic_id=profile.clinic_id,
        now=now,
        detail={"patient_id": profile.user_id, "refusal_status": refusal_status},
    )
    return ref
