"""History and standing: /me, /me/checkins, /me/symptom-reports, clinicians' patient views."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from services.runtime import Runtime
from store.clock import FrozenClock
from tests.support.selfreport import add_session, answers_for, set_profile
from tests.support.suite import Auth
from tests.support.world import World

Submit = Callable[..., Any]


def _pages(client: FlaskClient, url: str, headers: dict[str, str], limit: int) -> list[list[int]]:
    pages: list[list[int]] = []
    cursor: str | None = None
    while True:
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url + query, headers=headers)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_my_checkins_paginate_newest_first(
    client: FlaskClient,
    submit_phq9: Submit,
    patient_headers: dict[str, str],
    clock: FrozenClock,
    auth: Auth,
) -> None:
    ids = []
    for total in range(5):
        ids.append(submit_phq9(answers_for(total)).get_json()["id"])
        clock.advance(timedelta(hours=1))
    # Another patient's check-in never shows up.
    submit_phq9(answers_for(3), headers=auth.headers(World.pb_phone))
    assert _pages(client, "/api/v1/me/checkins", patient_headers, 2) == [
        ids[4:2:-1],
        ids[2:0:-1],
        ids[0:1],
    ]
    item = client.get("/api/v1/me/checkins?limit=1", headers=patient_headers).get_json()["items"][0]
    assert item["total"] == 4
    assert item["answers"] == answers_for(4)
    assert item["answered_at"].endswith("-05:00")
    assert "flag_details" not in item


def test_my_symptom_reports(
    client: FlaskClient, submit_report: Submit, patient_headers: dict[str, str]
) -> None:
    ids = [submit_report(fainted=i == 1).get_json()["id"] for i in range(3)]
    body = client.get("/api/v1/me/symptom-reports", headers=patient_headers).get_json()
    assert [item["id"] for item in body["items"]] == ids[::-1]
    assert body["items"][1]["flags"] == ["adverse_event"]
    assert body["next_cursor"] is None


@pytest.mark.parametrize(
    "query", ["?limit=0", "?limit=201", "?limit=x", "?cursor=nope", "?cursor="]
)
@pytest.mark.parametrize("url", ["/api/v1/me/checkins", "/api/v1/me/symptom-reports"])
def test_bad_page_query(
    client: FlaskClient, patient_headers: dict[str, str], url: str, query: str
) -> None:
    response = client.get(url + query, headers=patient_headers)
    assert response.status_code == 422


@pytest.mark.parametrize("url", ["/api/v1/me", "/api/v1/me/checkins", "/api/v1/me/symptom-reports"])
@pytest.mark.parametrize("username", [World.cx1, World.admin])
def test_me_is_for_patients(
    client: FlaskClient, auth: Auth, world: World, url: str, username: str
) -> None:
    assert client.get(url, headers=auth.headers(username)).status_code == 403


def test_me_standing(
    client: FlaskClient,
    submit_phq9: Submit,
    submit_report: Submit,
    patient_headers: dict[str, str],
    rt: Runtime,
    world: World,
    clock: FrozenClock,
) -> None:
    empty = client.get("/api/v1/me", headers=patient_headers).get_json()
    assert empty["latest_scores"] == {"phq9": None, "symptom_report": None}
    assert empty["outcome"]["baseline"] == 20
    assert empty["outcome"]["latest"] is None
    assert empty["next_session"] is None
    assert empty["sessions_given"] == 0

    add_session(rt, world, world.patient_a)
    due = clock.now() + timedelta(days=3)
    set_profile(rt, world.patient_a, maintenance_due_at=due, phase="maintenance")
    submit_phq9(answers_for(9))
    clock.advance(timedelta(days=1))
    latest = submit_phq9(answers_for(4)).get_json()
    report = submit_report(asrm=[1, 1, 1, 1, 1]).get_json()
    me = client.get("/api/v1/me", headers=patient_headers).get_json()
    assert me["id"] == world.patient_a
    assert me["phase"] == "maintenance"
    assert me["timezone"] == "America/New_York"
    assert me["care_team"] == [{"id": world.clinician_x1, "name": "clinician_x1"}]
    assert me["sessions_given"] == 1
    assert me["last_session_at"] == "2026-11-02T08:00:00-05:00"
    assert me["next_session"] == {"due_at": "2026-11-05T09:00:00-05:00"}
    assert me["latest_scores"]["phq9"]["id"] == latest["id"]
    assert me["latest_scores"]["phq9"]["total"] == 4
    assert me["latest_scores"]["symptom_report"]["id"] == report["id"]
    assert me["outcome"] == {
        "baseline": 20,
        "baseline_source": "screening_phq9",
        "baseline_reason": None,
        "latest": 4,
        "change": {"points": -16, "percent": -80.0},
        "response": True,
        "response_reason": None,
        "remission": True,
        "remission_reason": None,
        "relapse": False,
        "relapse_status": "none",
        "ever_responded": True,
        "minimal_important_change": True,
        "version": "outcomes-2",
    }


def test_latest_is_by_answered_time(
    client: FlaskClient,
    submit_phq9: Submit,
    patient_headers: dict[str, str],
    clock: FrozenClock,
    rt: Runtime,
    world: World,
) -> None:
    # Outcomes v2 count post-treatment check-ins only: treatment started an hour ago.
    add_session(rt, world, world.patient_a)
    submit_phq9(answers_for(6))
    late = (clock.now() - timedelta(days=2)).isoformat()
    submit_phq9(answers_for(12), answered_at=late)  # answered earlier, arrived later
    me = client.get("/api/v1/me", headers=patient_headers).get_json()
    assert me["latest_scores"]["phq9"]["total"] == 6
    assert me["outcome"]["latest"] == 6


def test_clinician_history_of_own_clinic(
    client: FlaskClient, submit_phq9: Submit, submit_report: Submit, auth: Auth, world: World
) -> None:
    checkin = submit_phq9(answers_for(4, item9=2)).get_json()
    report = submit_report(seizure=True).get_json()
    for username in (World.cx1, World.cx2):  # care team or not, same clinic
        headers = auth.headers(username)
        items = client.get(
            f"/api/v1/patients/{world.patient_a}/checkins", headers=headers
        ).get_json()["items"]
        assert [i["id"] for i in items] == [checkin["id"]]
        assert items[0]["flags"] == ["suicidality"]
        assert items[0]["flag_details"] == [
            {"kind": "suicidality", "priority": "urgent", "rule": "phq9.item9>=2"}
        ]
        assert items[0]["answered_at"] == "2026-11-02T14:00:00+00:00"
        reports = client.get(
            f"/api/v1/patients/{world.patient_a}/symptom-reports", headers=headers
        ).get_json()["items"]
        assert [r["id"] for r in reports] == [report["id"]]
        assert reports[0]["seizure"] is True


@pytest.mark.parametrize("suffix", ["checkins", "symptom-reports", ""])
def test_other_clinic_and_other_roles_cannot_see(
    client: FlaskClient, submit_phq9: Submit, auth: Auth, world: World, suffix: str
) -> None:
    submit_phq9(answers_for(4))
    url = f"/api/v1/patients/{world.patient_a}" + (f"/{suffix}" if suffix else "")
    assert client.get(url, headers=auth.headers(World.cy1)).status_code == 404
    assert client.get(url, headers=auth.headers(World.pa_phone)).status_code == 403
    assert client.get(url, headers=auth.headers(World.admin)).status_code == 403
    missing = url.replace(str(world.patient_a), "999999")
    assert client.get(missing, headers=auth.headers(World.cx1)).status_code == 404
    # A clinician id is not a patient.
    staff = url.replace(str(world.patient_a), str(world.clinician_x2))
    assert client.get(staff, headers=auth.headers(World.cx1)).status_code == 404


def test_patient_detail_has_latest_scores_and_outcome(
    client: FlaskClient, submit_phq9: Submit, auth: Auth, world: World, rt: Runtime
) -> None:
    add_session(rt, world, world.patient_a)  # outcomes v2: measured after treatment starts
    submit_phq9(answers_for(15))
    body = client.get(
        f"/api/v1/patients/{world.patient_a}", headers=auth.headers(World.cx1)
    ).get_json()
    assert body["name"] == "patient_a"
    assert body["latest_scores"]["phq9"]["total"] == 15
    assert body["latest_scores"]["phq9"]["severity"] == "moderately_severe"
    assert body["outcome"]["change"] == {"points": -5, "percent": -25.0}
    assert body["outcome"]["minimal_important_change"] is True
    # The list stays lean.
    listed = client.get("/api/v1/patients", headers=auth.headers(World.cx1)).get_json()
    assert all("outcome" not in item for item in listed["items"])
