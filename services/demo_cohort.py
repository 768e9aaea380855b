"""A seeded, reproducible demo cohort: ~60 patients with plausible courses and follow-ups.

The history is imported as records (sessions with vitals, scored PHQ-9s), not replayed
through the live rules: a backlog of past check-ins must not page anyone today. Every
check-in is scored by clinical.phq9 and marked ``rules_version = "demo-import"``, so nobody
mistakes it for a live submission.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from clinical import asrm, calendar, phq9
from clinical.outcomes import change_from_baseline
from services import patients, schedule
from store.models import OutboxMessage, PatientProfile, User
from store.reports import Phq9Checkin
from store.schedule import TreatmentSession, VitalsReading

SEED = 20261202
COHORT_SIZE = 60
IMPORT_RULES_VERSION = "demo-import"
# (kind, weight): how the acute course went. Relapses are drawn among the responders.
KINDS: tuple[tuple[str, int], ...] = (
    ("remitter", 10),
    ("responder", 12),
    ("partial", 20),
    ("non_responder", 20),
)
PRIOR = (("tms",), ("ketamine",), ("ketamine", "tms"))


@dataclass(frozen=True, slots=True)
class DemoPatient:
    """What the generator decided for one patient (kept for tests and the README)."""

    user_id: int
    kind: str
    relapse_at_months: int | None


def _answers(total: int, rng: random.Random) -> list[int]:
    """Nine answers 0-3 adding up to total, item 9 at 0 (items 1-8 carry the score)."""
    items = [0] * 9
    for _ in range(total):
        choices = [i for i in range(8) if items[i] < 3]
        items[rng.choice(choices)] += 1
    return items


def _phone(index: int) -> str:
    # Fictional numbers only: 555-01xx, across area codes so 60 fit beside the demo staff.
    area = ("303", "312", "415")[index // 40]
    return f"+1{area}5550{100 + index % 40 + 50:03d}"


def _checkin(
    session: Session,
    *,
    user_id: int,
    clinic_id: int,
    total: int,
    at: datetime,
    baseline: int | None,
    bipolar: bool,
    rng: random.Random,
) -> None:
    # Items 1-8 alone reach 24: the demo keeps item 9 at 0 (nobody in it reports self-harm).
    score = phq9.score_phq9(_answers(min(total, 24), rng), difficulty=min(3, total // 7))
    mania = asrm.score_asrm([rng.choice((0, 0, 1)) for _ in range(5)]) if bipolar else None
    change = change_from_baseline(baseline=baseline, current=score.total)
    session.add(
        Phq9Checkin(
            patient_id=user_id,
            clinic_id=clinic_id,
            answers=list(score.answers),
            difficulty=score.difficulty,
            total=score.total,
            prorated=score.prorated,
            answered_count=score.answered,
            severity=score.severity,
            item9=score.item9,
            asrm_answers=list(mania.answers) if mania else None,
            asrm_total=mania.total if mania else None,
            flags=[],
            change_points=change.points if change else None,
            change_percent=change.percent if change else None,
            instrument_version=score.version
            if mania is None
            else f"{score.version}+{mania.version}",
            rules_version=IMPORT_RULES_VERSION,
            answered_at=at,
            received_at=at,
        )
    )


def _session(
    session: Session,
    *,
    user_id: int,
    clinic_id: int,
    clinician: User,
    at: datetime,
    rng: random.Random,
) -> None:
    # About one session in 25 is off protocol (a dose or an infusion length), as in practice.
    dose = 0.6 if rng.random() < 0.04 else 0.5
    minutes = 15 if rng.random() < 0.04 else rng.choice((40, 40, 45, 50))
    record = TreatmentSession(
        patient_id=user_id,
        clinic_id=clinic_id,
        started_at=at,
        ketamine_mg_per_kg=dose,
        ketamine_infusion_minutes=minutes,
        tms_minutes=30,
        recorded_by=clinician.id,
        recorded_at=at + timedelta(hours=2),
    )
    session.add(record)
    session.flush()
    systolic, heart = rng.randint(112, 138), rng.randint(62, 84)
    for i in range(4):
        session.add(
            VitalsReading(
                session_id=record.id,
                at=at + timedelta(minutes=15 * i),
                systolic=systolic + rng.randint(-3, 8),
                diastolic=rng.randint(70, 88),
                heart_rate=heart + rng.randint(-4, 6),
            )
        )


def _course_days(start: datetime, count: int) -> list[datetime]:
    """Sessions on Monday, Wednesday and Friday at 14:00 UTC from start on."""
    day = start.replace(hour=14, minute=0, second=0, microsecond=0)
    out: list[datetime] = []
    while len(out) < count:
        if day.weekday() in (0, 2, 4):
            out.append(day)
        day += timedelta(days=1)
    return out


@dataclass(slots=True)
class _Course:
    """One cohort patient being generated: whose records, and against which PHQ-9 baseline."""

    profile: PatientProfile
    clinician: User
    enrolled: datetime
    bipolar: bool
    baseline: int | None

    def checkin(self, session: Session, *, total: int, at: datetime, rng: random.Random) -> None:
        """Import one scored PHQ-9 (with an ASRM when bipolar) for this patient."""
        _checkin(
            session,
            user_id=self.profile.user_id,
            clinic_id=self.profile.clinic_id,
            total=total,
            at=at,
            baseline=self.baseline,
            bipolar=self.bipolar,
            rng=rng,
        )


def _enrol(
    session: Session,
    *,
    index: int,
    clinician: User,
    screening: dict[str, object],
    now: datetime,
    rng: random.Random,
) -> tuple[_Course, bool, float]:
    """Enrol patient `index` days to years ago; also says whether only a MADRS was screened."""
    bipolar = index % 9 == 4
    prior = PRIOR[rng.randrange(3)]
    enrolled = now - timedelta(days=rng.randint(10, 840))
    baseline_kind = rng.random()
    # Most have a screening PHQ-9; a few only a MADRS (some of them with a pre-treatment
    # PHQ-9, some without: no honest PHQ-9 baseline), and a few a mild pre-treatment PHQ-9.
    madrs = baseline_kind < 0.08
    screening_score = rng.randint(12, 25)
    raw = dict(screening)
    raw["prior_inadequate_response"] = list(prior)
    raw["baseline"] = (
        {"instrument": "MADRS", "score": rng.randint(26, 40)}
        if madrs
        else {"instrument": "PHQ-9", "score": screening_score}
    )
    profile = patients.enroll_patient(
        session,
        clinician=clinician,
        now=enrolled,
        data={
            "name": f"Cohort Patient {index + 1:02d}",
            "phone": _phone(index),
            "timezone": "America/New_York",
            "bipolar": bipolar,
            "weight_kg": float(rng.randint(55, 105)),
            "care_team": [clinician.id],
            "screening": raw,
        },
    )
    baseline = None if madrs else screening_score
    course = _Course(profile, clinician, enrolled, bipolar, baseline)
    return course, madrs, baseline_kind


def _acute_end(kind: str, start: int, rng: random.Random) -> int:
    """The PHQ-9 the acute course ends on, for a course of this kind starting at `start`."""
    # Every kind's value is drawn (a dict, not a branch), so each patient uses the same draws.
    end = {
        "remitter": rng.randint(1, 4),
        "responder": max(5, round(start * rng.uniform(0.3, 0.5))),
        "partial": round(start * rng.uniform(0.55, 0.8)),
        "non_responder": min(27, round(start * rng.uniform(0.85, 1.05))),
    }[kind]
    return min(end, start) if kind != "non_responder" else end


def _acute_course(
    session: Session,
    course: _Course,
    *,
    first: datetime,
    planned: int,
    start: int,
    end: int,
    now: datetime,
    rng: random.Random,
) -> list[datetime]:
    """The sessions held so far, each followed by the next day's PHQ-9; returns their days."""
    profile = course.profile
    days = [d for d in _course_days(first, planned) if d < now - timedelta(hours=30)]
    for step, day in enumerate(days, start=1):
        _session(
            session,
            user_id=profile.user_id,
            clinic_id=profile.clinic_id,
            clinician=course.clinician,
            at=day,
            rng=rng,
        )
        total = round(start + (end - start) * step / planned + rng.uniform(-1.5, 1.5))
        if step == planned:
            total = end  # the completion PHQ-9
        course.checkin(
            session, total=max(0, min(27, total)), at=day + timedelta(days=1, hours=2), rng=rng
        )
    return days


def _follow_ups(
    session: Session,
    course: _Course,
    *,
    kind: str,
    relapse_at: int | None,
    acute_end: datetime,
    level: int,
    now: datetime,
    rng: random.Random,
) -> None:
    """The 1-24 month follow-up PHQ-9s due so far, a few unanswered, relapses among them."""
    for months in (1, 3, 6, 12, 24):
        when = calendar.add_months(acute_end, months) + timedelta(days=rng.randint(0, 6), hours=3)
        if when >= now:
            break
        if rng.random() < 0.08:
            continue  # a follow-up the patient never answered
        if relapse_at is not None and months >= relapse_at:
            level = rng.randint(12, 20)
        elif kind == "remitter":
            level = rng.randint(0, 4) if rng.random() < 0.95 else rng.randint(5, 8)
        else:
            level = max(0, min(27, level + rng.randint(-3, 2)))
        course.checkin(session, total=level, at=when, rng=rng)


def _grow_one(
    session: Session,
    *,
    index: int,
    kind: str,
    clinician: User,
    screening: dict[str, object],
    now: datetime,
    rng: random.Random,
) -> DemoPatient:
    """Enrol one patient and import their acute course and follow-ups."""
    course, madrs, baseline_kind = _enrol(
        session, index=index, clinician=clinician, screening=screening, now=now, rng=rng
    )
    profile = course.profile
    target = 10 if rng.random() < 0.15 else 6
    profile.acute_target_sessions = target
    first = course.enrolled + timedelta(days=rng.randint(3, 8))
    if (madrs and rng.random() < 0.5) or 0.08 <= baseline_kind < 0.13:
        # A pre-treatment PHQ-9, the honest baseline (sometimes mild: below 10).
        course.baseline = rng.randint(6, 9) if not madrs else rng.randint(14, 24)
        course.checkin(session, total=course.baseline, at=first - timedelta(days=1), rng=rng)
    start = course.baseline if course.baseline is not None else rng.randint(15, 24)
    end = _acute_end(kind, start, rng)
    stopped_early = kind == "non_responder" and rng.random() < 0.3
    planned = 4 if stopped_early else target
    days = _acute_course(
        session, course, first=first, planned=planned, start=start, end=end, now=now, rng=rng
    )
    relapse_at: int | None = None
    if len(days) == planned:
        acute_end = days[-1]
        if kind in ("remitter", "responder") and rng.random() < 0.25:
            relapse_at = rng.choice((3, 6, 12))
        _follow_ups(
            session,
            course,
            kind=kind,
            relapse_at=relapse_at,
            acute_end=acute_end,
            level=end,
            now=now,
            rng=rng,
        )
        if stopped_early:
            profile.phase_override = "follow_up"
        elif acute_end < now - timedelta(days=60):
            # Past the maintenance months the demo does not model: followed up only.
            profile.phase_override = "follow_up"
    session.flush()
    schedule.replan_patient(session, patient=profile, now=now)
    return DemoPatient(user_id=profile.user_id, kind=kind, relapse_at_months=relapse_at)


def grow(
    session: Session,
    *,
    clinicians: list[User],
    screening: dict[str, object],
    now: datetime,
    size: int = COHORT_SIZE,
    seed: int = SEED,
) -> list[DemoPatient]:
    """Enrol `size` patients with seeded histories; the same seed gives the same cohort."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not a secret
    made: list[DemoPatient] = []
    kinds = [k for k, w in KINDS for _ in range(w)]
    for index in range(size):
        kind = rng.choice(kinds)
        clinician = clinicians[index % len(clinicians)]
        made.append(
            _grow_one(
                session,
                index=index,
                kind=kind,
                clinician=clinician,
                screening=screening,
                now=now,
                rng=rng,
            )
        )
    # Imported patients are not invited to the app: drop their queued activation texts.
    session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.recipient_id.in_([p.user_id for p in made]),
            OutboxMessage.purpose == patients.ACTIVATION_PURPOSE,
        )
    )
    return made
