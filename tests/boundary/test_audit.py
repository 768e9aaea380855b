"""The audit trail: every read and change of patient data and every sign-in (issue 15 item 13)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from flask.testing import FlaskClient

from services.runtime import Runtime
from store.clock import FrozenClock
from tests.escalations.support import SUICIDAL, phq9, raise_for
from tests.schedule.support import session_body
from tests.support.suite import Auth
from tests.support.world import World

AUDIT = "/api/v1/audit"


def _trail(client: FlaskClient, auth: Auth, query: str = "") -> list[dict[str, Any]]:
    """Every event matching ``query``, all pages, newest first."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        url = f"{AUDIT}?limit=200{query}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url, headers=auth.headers(World.admin))
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def test_every_read_of_a_patients_data_is_in_the_trail(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime
) -> None:
    staff = auth.headers(World.cx1)
    patient = auth.headers(World.pa_phone)
    a = world.patient_a
    assert (
        client.post(
            "/api/v1/checkins/phq9", json={"answers": SUICIDAL}, headers=patient
        ).status_code
        == 201
    )
    started = rt.clock.now() - timedelta(hours=1)
    assert (
        client.post(
            f"/api/v1/patients/{a}/sessions", json=session_body(started), headers=staff
        ).status_code
        == 201
    )
    for url in (
        f"/api/v1/patients/{a}",
        f"/api/v1/patients/{a}/checkins",
        f"/api/v1/patients/{a}/symptom-reports",
        f"/api/v1/patients/{a}/sessions",
        "/api/v1/patients",
    ):
        assert client.get(url, headers=staff).status_code == 200, url
    for url in (
        "/api/v1/me",
        "/api/v1/me/checkins",
        "/api/v1/me/symptom-reports",
        "/api/v1/me/tasks",
    ):
        assert client.get(url, headers=patient).status_code == 200, url
    ref = raise_for(rt, a, phq9(SUICIDAL))[0]
    assert client.get(f"/api/v1/escalations/{ref.id}", headers=staff).status_code == 200

    events = _trail(client, auth, f"&patient_id={a}")
    assert {e["patient_id"] for e in events} == {a}
    by_actor = {(e["actor_id"], e["actor_role"], e["action"]) for e in events}
    x1 = world.clinician_x1
    for action in (
        "patient.read",
        "checkins.read",
        "symptom_reports.read",
        "sessions.read",
        "escalation.read",
    ):
        assert (x1, "clinician", action) in by_actor, action
    for action in (
        "patient.read",
        "checkins.read",
        "symptom_reports.read",
        "tasks.read",
        "checkin.create",
        "auth.login",
    ):
        assert (a, "patient", action) in by_actor, action
    session_created = [e for e in events if e["target_type"] == "session"]
    assert session_created and session_created[0]["actor_id"] == x1
    listed = [
        e for e in events if e["action"] == "patient.read" and e["detail"].get("via") == "list"
    ]
    assert listed, "the patient list is a read of each patient on the page"
    for event in events:
        assert event.keys() >= {"at", "actor_id", "actor_role", "action", "patient_id", "target"}


def test_logins_and_failures_are_in_the_trail_without_the_username(
    client: FlaskClient, auth: Auth, world: World
) -> None:
    assert (
        client.post(
            "/api/v1/auth/login", json={"username": World.cx2, "password": "wrong one"}
        ).status_code
        == 401
    )
    assert (
        client.post(
            "/api/v1/auth/login", json={"username": "nobody@tandem.test", "password": "x"}
        ).status_code
        == 401
    )
    auth.login(World.cx2, World.PASSWORD)
    mine = _trail(client, auth, f"&actor_id={world.clinician_x2}")
    assert [e["action"] for e in mine] == ["auth.login", "auth.login_failed"]
    assert mine[1]["detail"] == {"reason": "bad_credentials"}
    everything = _trail(client, auth)
    anonymous = [
        e for e in everything if e["action"] == "auth.login_failed" and e["actor_id"] is None
    ]
    assert len(anonymous) == 1
    text = json.dumps(everything)
    for secret in ("nobody@tandem.test", World.cx2, World.pa_phone, "wrong one", "Test Patient"):
        assert secret not in text


def test_filters_pages_and_csv(
    client: FlaskClient, auth: Auth, world: World, clock: FrozenClock
) -> None:
    staff = auth.headers(World.cx1)
    for _ in range(3):
        client.get(f"/api/v1/patients/{world.patient_b}", headers=staff)
    clock.advance(timedelta(hours=1))
    since = clock.now()
    client.get(f"/api/v1/patients/{world.patient_b}/checkins", headers=staff)
    recent = _trail(client, auth, f"&patient_id={world.patient_b}&since={quote(since.isoformat())}")
    assert [e["action"] for e in recent] == ["checkins.read"]
    first = client.get(
        f"{AUDIT}?patient_id={world.patient_b}&limit=2", headers=auth.headers(World.admin)
    )
    page = first.get_json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = client.get(
        f"{AUDIT}?patient_id={world.patient_b}&limit=2&cursor={page['next_cursor']}",
        headers=auth.headers(World.admin),
    ).get_json()
    assert {e["id"] for e in rest["items"]}.isdisjoint({e["id"] for e in page["items"]})

    export = client.get(
        f"{AUDIT}?patient_id={world.patient_b}",
        headers={**auth.headers(World.admin), "Accept": "text/csv"},
    )
    assert export.status_code == 200
    assert export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert len(rows) == len(_trail(client, auth, f"&patient_id={world.patient_b}")) >= 4
    assert {r["patient_id"] for r in rows} == {str(world.patient_b)}
    assert rows[0]["action"] == "checkins.read" and rows[0]["actor_role"] == "clinician"


def test_bad_filters_are_422(client: FlaskClient, auth: Auth, world: World) -> None:
    admin = auth.headers(World.admin)
    for query in ("patient_id=0", "actor_id=99999999999", "since=yesterday", "cursor=nope"):
        response = client.get(f"{AUDIT}?{query}", headers=admin)
        assert response.status_code == 422, query


def test_only_an_admin_reads_the_trail(client: FlaskClient, auth: Auth, world: World) -> None:
    for who in (World.cx1, World.pa_phone):
        assert client.get(AUDIT, headers=auth.headers(who)).status_code == 403
    assert client.get(AUDIT).status_code == 401


def test_no_clinical_category_or_contact_detail_in_the_trail(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime
) -> None:
    raise_for(rt, world.patient_a, phq9(SUICIDAL))
    events = _trail(client, auth, f"&patient_id={world.patient_a}")
    created = [e for e in events if e["action"] == "escalation.create"]
    assert created and all("kind" not in e["detail"] for e in created)
    assert "suicid" not in json.dumps(events)
