"""POST /api/v1/checkins/phq9: scoring, bands, prorating, flags, crisis resources, outcomes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clinical.crisis import CRISIS_RESOURCES
from services.runtime import Runtime
from store.clock import FrozenClock
from store.escalations import EscalationEvidence
from store.reports import Phq9Checkin
from tests.support.selfreport import (
    add_session,
    add_task,
    answers_for,
    counts,
    set_profile,
    task_status,
)
from tests.support.world import World

Submit = Callable[..., Any]


def test_contract_fields_and_stored_record(submit_phq9: Submit, rt: Runtime, world: World) -> None:
    add_session(rt, world, world.patient_a)  # outcomes v2: measured after treatment starts
    body = submit_phq9([1, 1, 1, 1, 1, 1, 1, 1, 0], difficulty=2).get_json()
    assert set(body) >= {
        "id",
        "total",
        "prorated",
        "severity",
        "item9",
        "flags",
        "escalation",
        "crisis_resources",
        "change_from_baseline",
    }
    assert body["total"] == 8
    assert body["prorated"] is False
    assert body["severity"] == "mild"
    assert body["item9"] == 0
    assert body["flags"] == []
    assert body["escalation"] is None
    assert body["crisis_resources"] is None
    # World baseline: screening PHQ-9 of 20.
    assert body["change_from_baseline"] == {"points": -12, "percent": -60.0}
    assert body["outcome"]["response"] is True
    assert body["outcome"]["version"] == "outcomes-2"
    # Patients see their own time zone (America/New_York, UTC-5 in November).
    assert body["answered_at"] == "2026-11-02T09:00:00-05:00"
    with rt.database.session() as session:
        record = session.get(Phq9Checkin, body["id"])
        assert record is not None
        assert record.patient_id == world.patient_a
        assert record.answers == [1, 1, 1, 1, 1, 1, 1, 1, 0]
        assert record.difficulty == 2
        assert (record.total, record.severity, record.answered_count) == (8, "mild", 9)
        assert record.instrument_version == "phq9-1"
        assert record.rules_version == "rules-2"
        assert record.outcome is not None and record.outcome["version"] == "outcomes-2"
        assert record.answered_at == rt.clock.now() == record.received_at
        assert (record.change_points, record.change_percent) == (-12, -60.0)


@pytest.mark.parametrize(
    ("total", "severity"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_severity_band_boundaries(submit_phq9: Submit, total: int, severity: str) -> None:
    item9 = 3 if total == 27 else 0
    body = submit_phq9(answers_for(total, item9=item9)).get_json()
    assert (body["total"], body["severity"]) == (total, severity)


@pytest.mark.parametrize(
    ("answers", "total"),
    [
        # 1 skipped, sum 4 over 8 -> 4.5 -> 5 (half up)
        ([None, 1, 1, 1, 1, 0, 0, 0, 0], 5),
        # 2 skipped, sum 3 over 7 -> 3.857 -> 4
        ([None, None, 1, 1, 1, 0, 0, 0, 0], 4),
        # 1 skipped, sum 12 over 8 -> 13.5 -> 14 (moderate, not 13)
        ([None, 3, 3, 3, 3, 0, 0, 0, 0], 14),
        # 2 skipped, sum 7 over 7 -> 9 exactly
        ([None, None, 1, 1, 1, 1, 1, 1, 1], 9),
    ],
)
def test_prorating_rounds_half_up(
    submit_phq9: Submit, answers: list[int | None], total: int
) -> None:
    body = submit_phq9(answers).get_json()
    assert body["total"] == total
    assert body["prorated"] is True


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_crisis_resources_for_item9(submit_phq9: Submit, item9: int) -> None:
    body = submit_phq9(answers_for(4, item9=item9)).get_json()
    assert body["crisis_resources"] == CRISIS_RESOURCES
    assert body["escalation"]["kind"] == "suicidality"


def test_no_crisis_resources_without_item9(submit_phq9: Submit) -> None:
    body = submit_phq9([1, 1, 1, 1, 1, 1, 1, 1, 0]).get_json()
    assert body["crisis_resources"] is None


def test_crisis_resources_when_item9_is_skipped(submit_phq9: Submit) -> None:
    """rules-2: a skipped item 9 gets crisis resources (the patient may be withholding)."""
    body = submit_phq9([1, 1, 1, 1, 1, 1, 1, 1, None]).get_json()
    assert body["crisis_resources"] == CRISIS_RESOURCES


@pytest.mark.parametrize(
    ("answers", "kind", "priority"),
    [
        (answers_for(4, item9=2), "suicidality", "urgent"),
        (answers_for(6, item9=3), "suicidality", "urgent"),
        (answers_for(20, item9=1), "suicidality", "urgent"),
        (answers_for(19, item9=1), "suicidality", "high"),
        (answers_for(4, item9=1), "suicidality", "high"),
        (answers_for(20), "severe_depression", "high"),
        ([1, 1, 1, 1, 1, 1, 1, 1, None], "safety_item_unanswered", "routine"),
    ],
)
def test_single_submission_flags(
    submit_phq9: Submit, rt: Runtime, answers: list[int | None], kind: str, priority: str
) -> None:
    body = submit_phq9(answers).get_json()
    assert body["flags"][0] == kind
    assert body["escalation"]["kind"] == kind
    assert body["escalation"]["priority"] == priority
    with rt.database.session() as session:
        evidence = session.scalars(select(EscalationEvidence)).all()
        assert [(e.source_type, e.source_id) for e in evidence] == [("phq9", body["id"])]


def test_severe_depression_boundary(submit_phq9: Submit) -> None:
    assert submit_phq9(answers_for(19)).get_json()["flags"] == []
    assert submit_phq9(answers_for(20)).get_json()["flags"] == ["severe_depression"]


def test_worsening_against_previous_checkin(
    submit_phq9: Submit, clock: FrozenClock, rt: Runtime, world: World
) -> None:
    # No screening PHQ-9, so the first check-in (4) is the baseline and nothing is a relapse.
    set_profile(rt, world.patient_a, baseline_phq9=None)
    submit_phq9(answers_for(4))
    clock.advance(timedelta(days=1))
    assert submit_phq9(answers_for(8)).get_json()["flags"] == []  # +4
    clock.advance(timedelta(days=1))
    body = submit_phq9(answers_for(13)).get_json()  # +5
    assert body["flags"] == ["worsening"]
    assert body["escalation"] == {
        "id": body["escalation"]["id"],
        "kind": "worsening",
        "priority": "routine",
    }


def test_previous_is_by_answered_time(submit_phq9: Submit, clock: FrozenClock) -> None:
    """A late-arriving answer is compared with the check-in answered before it."""
    submit_phq9(answers_for(4))
    clock.advance(timedelta(days=2))
    submit_phq9(answers_for(13))
    earlier = (clock.now() - timedelta(days=1)).isoformat()
    # Answered between the two: +5 over the first (4), not compared with the 13.
    body = submit_phq9(answers_for(9), answered_at=earlier).get_json()
    assert body["flags"] == ["worsening"]


def test_relapse_after_response(
    submit_phq9: Submit, clock: FrozenClock, rt: Runtime, world: World
) -> None:
    """Baseline 20 (screening): 10 is a response; 11 opens a re-check; a second 11 confirms."""
    add_session(rt, world, world.patient_a)
    first = submit_phq9(answers_for(10)).get_json()
    assert first["flags"] == []
    assert first["outcome"]["response"] is True
    clock.advance(timedelta(days=1))
    body = submit_phq9(answers_for(11)).get_json()
    # rules-2: one bad total is a routine re-check, not yet a relapse page.
    assert body["flags"] == ["relapse"]
    assert body["escalation"]["priority"] == "routine"
    assert body["outcome"] == {
        "baseline": 20,
        "baseline_source": "screening_phq9",
        "baseline_reason": None,
        "latest": 11,
        "change": {"points": -9, "percent": -45.0},
        "response": False,
        "response_reason": None,
        "remission": False,
        "remission_reason": None,
        "relapse": True,
        "relapse_status": "recheck",
        "ever_responded": True,
        "minimal_important_change": True,
        "version": "outcomes-2",
    }
    clock.advance(timedelta(hours=6))
    second = submit_phq9(answers_for(11)).get_json()
    assert second["escalation"]["priority"] == "high"
    assert second["outcome"]["relapse_status"] == "confirmed"


def test_no_relapse_without_earlier_response(submit_phq9: Submit, clock: FrozenClock) -> None:
    submit_phq9(answers_for(12))
    clock.advance(timedelta(days=1))
    assert submit_phq9(answers_for(12)).get_json()["flags"] == []


def test_baseline_is_the_pre_treatment_checkin_without_screening_phq9(
    submit_phq9: Submit, rt: Runtime, world: World, clock: FrozenClock
) -> None:
    """outcomes-2: the latest PHQ-9 before the first session is the baseline."""
    set_profile(rt, world.patient_a, baseline_phq9=None)
    first = submit_phq9(answers_for(16)).get_json()
    assert first["change_from_baseline"] == {"points": 0, "percent": 0.0}
    assert first["outcome"]["baseline"] == 16
    assert first["outcome"]["baseline_source"] == "pre_treatment_phq9"
    assert first["outcome"]["response"] is None
    assert first["outcome"]["response_reason"] == "no_post_treatment_phq9"
    clock.advance(timedelta(days=3))
    add_session(rt, world, world.patient_a)
    body = submit_phq9(answers_for(8)).get_json()
    assert body["change_from_baseline"] == {"points": -8, "percent": -50.0}
    assert body["outcome"]["response"] is True


def test_a_post_treatment_checkin_is_never_the_baseline(
    submit_phq9: Submit, rt: Runtime, world: World
) -> None:
    """outcomes-2: a MADRS screening and no pre-treatment PHQ-9: no PHQ-9 outcome, a reason."""
    set_profile(rt, world.patient_a, baseline_phq9=None, baseline_instrument="MADRS")
    add_session(rt, world, world.patient_a)
    body = submit_phq9(answers_for(8)).get_json()
    assert body["change_from_baseline"] is None
    assert body["outcome"]["baseline"] is None
    assert body["outcome"]["response"] is None
    assert body["outcome"]["response_reason"] == "no_phq9_baseline"
    assert body["outcome"]["remission"] is None


@pytest.mark.parametrize(("bipolar", "priority"), [(True, "urgent"), (False, "high")])
def test_asrm_with_phq9(
    submit_phq9: Submit, rt: Runtime, world: World, bipolar: bool, priority: str
) -> None:
    set_profile(rt, world.patient_a, bipolar=bipolar, phase="maintenance")
    quiet = submit_phq9(answers_for(3), asrm=[1, 1, 1, 1, 1]).get_json()
    assert (quiet["asrm_total"], quiet["flags"]) == (5, [])
    body = submit_phq9(answers_for(3), asrm=[2, 1, 1, 1, 1]).get_json()
    assert body["asrm_total"] == 6
    assert body["flags"] == ["mania"]
    assert body["escalation"]["priority"] == priority
    with rt.database.session() as session:
        record = session.get(Phq9Checkin, body["id"])
        assert record is not None
        assert record.asrm_answers == [2, 1, 1, 1, 1]


def test_clinic_rules_apply(submit_phq9: Submit, rt: Runtime, world: World) -> None:
    """A clinic that pages severe depression from 18 sees the flag at 18."""
    from store.models import Clinic

    with rt.database.unit_of_work() as session:
        clinic = session.get(Clinic, world.clinic_x)
        assert clinic is not None
        clinic.escalation_rules = {"severe_depression_total": 18}
    assert submit_phq9(answers_for(18)).get_json()["flags"] == ["severe_depression"]


def test_answered_at_window(submit_phq9: Submit, clock: FrozenClock) -> None:
    now = clock.now()
    for ok in (now - timedelta(days=7), now + timedelta(minutes=5), now - timedelta(hours=3)):
        body = submit_phq9(answers_for(3), answered_at=ok.isoformat()).get_json()
        assert body["answered_at"] is not None


def test_session_and_task_are_recorded_and_task_closed(
    submit_phq9: Submit, rt: Runtime, world: World
) -> None:
    session_id = add_session(rt, world, world.patient_a)
    task_id = add_task(rt, world.patient_a, "phq9")
    body = submit_phq9(answers_for(3), session_id=session_id, task_id=task_id).get_json()
    assert task_status(rt, task_id) == "done"
    with rt.database.session() as session:
        record = session.get(Phq9Checkin, body["id"])
        assert record is not None
        assert (record.session_id, record.task_id) == (session_id, task_id)


def test_task_of_the_wrong_kind_is_refused(submit_phq9: Submit, rt: Runtime, world: World) -> None:
    task_id = add_task(rt, world.patient_a, "symptom_report")
    before = counts(rt)
    response = submit_phq9(answers_for(3), task_id=task_id, expect=422)
    assert "task_id" in response.get_json()["errors"]
    assert counts(rt) == before
