"""POST /api/v1/symptom-reports: flags, crisis resources, stored record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from clinical.crisis import CRISIS_RESOURCES
from clinical.symptoms import SYMPTOMS
from services.runtime import Runtime
from store.reports import SymptomReportRecord
from tests.support.selfreport import add_session, add_task, set_profile, task_status
from tests.support.world import World

Submit = Callable[..., Any]


def test_quiet_report_is_stored(submit_report: Submit, rt: Runtime, world: World) -> None:
    session_id = add_session(rt, world, world.patient_a)
    task_id = add_task(rt, world.patient_a, "symptom_report")
    symptoms = dict.fromkeys(SYMPTOMS, 1)
    body = submit_report(
        symptoms=symptoms,
        asrm=[1, 0, 1, 0, 1],
        notes="  felt floaty  ",
        session_id=session_id,
        task_id=task_id,
    ).get_json()
    assert set(body) >= {"id", "asrm_total", "flags", "escalation", "crisis_resources"}
    assert body["asrm_total"] == 3
    assert body["flags"] == []
    assert body["escalation"] is None
    assert body["crisis_resources"] is None
    assert task_status(rt, task_id) == "done"
    with rt.database.session() as session:
        record = session.get(SymptomReportRecord, body["id"])
        assert record is not None
        assert record.symptoms == symptoms
        assert record.asrm_answers == [1, 0, 1, 0, 1]
        assert record.notes == "  felt floaty  "
        assert (record.session_id, record.task_id) == (session_id, task_id)
        assert record.instrument_version == "symptoms-1+asrm-1"


def test_blank_notes_are_not_kept(submit_report: Submit, rt: Runtime) -> None:
    body = submit_report(notes="   ").get_json()
    with rt.database.session() as session:
        record = session.get(SymptomReportRecord, body["id"])
        assert record is not None and record.notes is None


@pytest.mark.parametrize("thoughts", [1, 2, 3])
def test_crisis_resources_for_suicidal_thoughts(submit_report: Submit, thoughts: int) -> None:
    body = submit_report(suicidal_thoughts=thoughts).get_json()
    assert body["crisis_resources"] == CRISIS_RESOURCES
    assert body["escalation"]["kind"] == "suicidality"
    assert body["escalation"]["priority"] == ("high" if thoughts == 1 else "urgent")


def test_no_crisis_resources_without_suicidal_thoughts(submit_report: Submit) -> None:
    assert submit_report(suicidal_thoughts=0).get_json()["crisis_resources"] is None


@pytest.mark.parametrize(
    ("bipolar", "asrm", "flags", "priority"),
    [
        (True, [1, 1, 1, 1, 1], [], None),
        (True, [2, 1, 1, 1, 1], ["mania"], "urgent"),
        (False, [1, 1, 1, 1, 1], [], None),
        (False, [2, 1, 1, 1, 1], ["mania"], "high"),
        (False, [4, 4, 4, 4, 4], ["mania"], "high"),
    ],
)
def test_asrm_cutoff(
    submit_report: Submit,
    rt: Runtime,
    world: World,
    bipolar: bool,
    asrm: list[int],
    flags: list[str],
    priority: str | None,
) -> None:
    set_profile(rt, world.patient_a, bipolar=bipolar)
    body = submit_report(asrm=asrm).get_json()
    assert body["asrm_total"] == sum(asrm)
    assert body["flags"] == flags
    assert (body["escalation"] or {}).get("priority") == priority


@pytest.mark.parametrize(
    ("overrides", "priority"),
    [
        ({"seizure": True}, "urgent"),
        ({"fainted": True}, "high"),
        ({"symptoms": {**dict.fromkeys(SYMPTOMS, 0), "bladder_pain": 3}}, "high"),
        ({"symptoms": {**dict.fromkeys(SYMPTOMS, 0), "dissociation": 3}}, "high"),
        ({"seizure": True, "fainted": True}, "urgent"),
    ],
)
def test_adverse_events(submit_report: Submit, overrides: dict[str, Any], priority: str) -> None:
    body = submit_report(**overrides).get_json()
    assert body["flags"] == ["adverse_event"]
    assert body["escalation"]["kind"] == "adverse_event"
    assert body["escalation"]["priority"] == priority


def test_moderate_symptoms_raise_nothing(submit_report: Submit) -> None:
    body = submit_report(symptoms=dict.fromkeys(SYMPTOMS, 2)).get_json()
    assert body["flags"] == []


def test_several_flags_most_urgent_first(submit_report: Submit) -> None:
    body = submit_report(suicidal_thoughts=1, seizure=True, asrm=[3, 3, 0, 0, 0]).get_json()
    assert body["flags"][0] == "adverse_event"
    assert set(body["flags"]) == {"adverse_event", "suicidality", "mania"}
    assert body["escalation"]["priority"] == "urgent"
