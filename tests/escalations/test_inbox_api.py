"""The clinician's escalation inbox over HTTP: scope, ordering, actions, errors, audit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from clinical.rules import Flag
from services.runtime import Runtime
from store.clock import FrozenClock
from store.models import AuditEvent
from tests.escalations.support import ITEM9_ONE, ITEM9_SKIPPED, SUICIDAL, phq9, raise_for
from tests.support.suite import Auth
from tests.support.world import World

BASE = "/api/v1/escalations"


def audit_actions(rt: Runtime) -> list[str]:
    with rt.database.unit_of_work() as s:
        return list(
            s.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.action.startswith("escalation."))
                .order_by(AuditEvent.id)
            )
        )


@pytest.fixture
def three(rt: Runtime, world: World, clock: FrozenClock) -> dict[str, int]:
    """A routine, then a high, then an urgent escalation in clinic X, a minute apart."""
    routine = raise_for(rt, world.patient_a, phq9(ITEM9_SKIPPED))[0].id
    clock.advance(timedelta(minutes=1))
    high = raise_for(rt, world.patient_b, phq9(ITEM9_ONE))[0].id
    clock.advance(timedelta(minutes=1))
    urgent = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0].id
    return {"routine": routine, "high": high, "urgent": urgent}


def test_list_orders_open_urgent_oldest_first_and_filters(
    client: FlaskClient,
    auth: Auth,
    three: dict[str, int],
    world: World,
    rt: Runtime,
    clock: FrozenClock,
) -> None:
    h = auth.headers(World.cx1)
    clock.advance(timedelta(minutes=1))
    older_urgent = three["urgent"]
    newer_urgent = raise_for(rt, world.patient_b, phq9(SUICIDAL))[0].id
    # patient_b's suicidality merged into its high escalation and raised it to urgent.
    assert newer_urgent == three["high"]
    body = client.get(BASE, headers=h).get_json()
    # Both urgent now: the older one (created first) leads; routine comes last.
    assert [e["id"] for e in body["items"]] == [three["high"], older_urgent, three["routine"]]
    client.post(f"{BASE}/{three['high']}/acknowledge", headers=h)
    ids = [e["id"] for e in client.get(BASE, headers=h).get_json()["items"]]
    assert ids == [older_urgent, three["routine"], three["high"]]

    def ids_for(query: str) -> list[int]:
        response = client.get(f"{BASE}?{query}", headers=h)
        assert response.status_code == 200, response.get_json()
        return [e["id"] for e in response.get_json()["items"]]

    assert ids_for("status=acknowledged") == [three["high"]]
    assert ids_for("priority=routine") == [three["routine"]]
    assert ids_for("kind=safety_item_unanswered") == [three["routine"]]
    assert ids_for(f"patient_id={world.patient_b}") == [three["high"]]
    assert ids_for("status=resolved") == []


def test_list_paginates_with_an_opaque_cursor(
    client: FlaskClient, auth: Auth, three: dict[str, int]
) -> None:
    h = auth.headers(World.cx2)
    first = client.get(f"{BASE}?limit=2", headers=h).get_json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = client.get(f"{BASE}?limit=2&cursor={first['next_cursor']}", headers=h).get_json()
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    seen = [e["id"] for e in first["items"] + second["items"]]
    assert sorted(seen) == sorted(three.values())


@pytest.mark.parametrize(
    "query",
    [
        "status=closed",
        "priority=low",
        "kind=boredom",
        "patient_id=abc",
        "limit=0",
        "limit=201",
        "cursor=zzz",
    ],
)
def test_bad_list_queries_are_422(
    client: FlaskClient, auth: Auth, world: World, query: str
) -> None:
    response = client.get(f"{BASE}?{query}", headers=auth.headers(World.cx1))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"


def test_detail_has_evidence_notifications_and_timeline(
    client: FlaskClient, auth: Auth, three: dict[str, int], rt: Runtime, world: World
) -> None:
    rt.dispatcher.drain()
    response = client.get(f"{BASE}/{three['urgent']}", headers=auth.headers(World.cx1))
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    assert {k: body[k] for k in ("id", "patient_id", "kind", "priority", "status", "tier")} == {
        "id": three["urgent"],
        "patient_id": world.patient_a,
        "kind": "suicidality",
        "priority": "urgent",
        "status": "open",
        "tier": 1,
    }
    for key in ("created_at", "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by"):
        assert key in body
    assert body["created_at"].endswith("+00:00")
    [evidence] = body["evidence"]
    assert evidence["rule"] == "phq9.item9>=2" and evidence["detail"]["answers"] == SUICIDAL
    [note] = body["notifications"]
    assert {k: note[k] for k in ("recipient_id", "tier", "status", "attempts")} == {
        "recipient_id": world.clinician_x1,
        "tier": 1,
        "status": "sent",
        "attempts": 1,
    }
    assert note["twilio_sid"] and note["delivery_status"]
    assert [e["event"] for e in body["timeline"]] == ["created", "paged"]
    assert body["unreachable_clinicians"] == []


def test_acknowledge_then_resolve_with_note(
    client: FlaskClient, auth: Auth, three: dict[str, int], rt: Runtime, world: World
) -> None:
    h = auth.headers(World.cx2)
    url = f"{BASE}/{three['urgent']}"
    acked = client.post(f"{url}/acknowledge", headers=h)
    assert acked.status_code == 200
    body = acked.get_json()
    assert (body["status"], body["acknowledged_by"]) == ("acknowledged", world.clinician_x2)
    assert body["next_page_at"] is None
    again = client.post(f"{url}/acknowledge", headers=auth.headers(World.cx1))
    assert again.status_code == 200
    assert again.get_json()["acknowledged_by"] == world.clinician_x2  # unchanged

    for bad in ({}, {"note": ""}, {"note": "   "}, {"note": "x" * 2001}, {"note": 5}):
        response = client.post(f"{url}/resolve", headers=h, json=bad)
        assert response.status_code == 422, bad
        assert "note" in response.get_json()["errors"]
    resolved = client.post(f"{url}/resolve", headers=h, json={"note": "Called; safety plan."})
    assert resolved.status_code == 200
    body = resolved.get_json()
    assert (body["status"], body["resolved_by"], body["resolution_note"]) == (
        "resolved",
        world.clinician_x2,
        "Called; safety plan.",
    )
    assert client.post(f"{url}/resolve", headers=h, json={"note": "again"}).status_code == 409
    conflict = client.post(f"{url}/acknowledge", headers=h)
    assert conflict.status_code == 409
    assert conflict.mimetype == "application/problem+json"
    # Refused requests roll back; a repeated acknowledgement changes (and records) nothing.
    assert audit_actions(rt)[-2:] == ["escalation.acknowledge", "escalation.resolve"]
    assert audit_actions(rt).count("escalation.acknowledge") == 1


def test_resolve_an_open_escalation_acknowledges_it_too(
    client: FlaskClient, auth: Auth, three: dict[str, int], world: World
) -> None:
    response = client.post(
        f"{BASE}/{three['urgent']}/resolve",
        headers=auth.headers(World.cx1),
        json={"note": "Seen in clinic."},
    )
    body = response.get_json()
    assert (body["status"], body["acknowledged_by"]) == ("resolved", world.clinician_x1)


def test_reassign_within_the_clinic_only(
    client: FlaskClient, auth: Auth, three: dict[str, int], world: World, rt: Runtime
) -> None:
    h = auth.headers(World.cx1)
    url = f"{BASE}/{three['urgent']}/reassign"
    ok = client.post(url, headers=h, json={"clinician_id": world.clinician_x3})
    assert ok.status_code == 200
    assert ok.get_json()["assigned_to"] == world.clinician_x3
    assert ok.get_json()["timeline"][-1]["event"] == "reassigned"
    for bad in (world.clinician_y1, world.patient_a, world.admin_id, 999_999):
        response = client.post(url, headers=h, json={"clinician_id": bad})
        assert response.status_code == 422, bad
    assert client.post(url, headers=h, json={}).status_code == 422
    rt.dispatcher.drain()


def test_other_clinics_escalations_are_404(
    client: FlaskClient, auth: Auth, three: dict[str, int], rt: Runtime, world: World
) -> None:
    h = auth.headers(World.cy1)
    assert client.get(BASE, headers=h).get_json()["items"] == []
    url = f"{BASE}/{three['urgent']}"
    assert client.get(url, headers=h).status_code == 404
    assert client.post(f"{url}/acknowledge", headers=h).status_code == 404
    assert client.post(f"{url}/resolve", headers=h, json={"note": "x"}).status_code == 404
    assert (
        client.post(
            f"{url}/reassign", headers=h, json={"clinician_id": world.clinician_y1}
        ).status_code
        == 404
    )
    assert client.get(f"{BASE}/999999", headers=auth.headers(World.cx1)).status_code == 404
    # Clinic Y's own escalation is visible to Y, and not to X.
    own = raise_for(rt, world.patient_c_y, [Flag("mania", "high", "asrm.total>=6", {"total": 8})])[
        0
    ].id
    assert [e["id"] for e in client.get(BASE, headers=h).get_json()["items"]] == [own]
    assert client.get(f"{BASE}/{own}", headers=auth.headers(World.cx1)).status_code == 404
    rt.dispatcher.drain()


@pytest.mark.parametrize("who", [World.admin, World.pa_phone])
def test_patients_and_admins_are_403(
    client: FlaskClient, auth: Auth, three: dict[str, int], who: str
) -> None:
    h = auth.headers(who)
    url = f"{BASE}/{three['urgent']}"
    assert client.get(BASE, headers=h).status_code == 403
    assert client.get(url, headers=h).status_code == 403
    assert client.post(f"{url}/acknowledge", headers=h).status_code == 403
    assert client.post(f"{url}/resolve", headers=h, json={"note": "x"}).status_code == 403


def test_no_token_is_401(client: FlaskClient, three: dict[str, int]) -> None:
    assert client.get(BASE).status_code == 401
    assert client.post(f"{BASE}/{three['urgent']}/acknowledge").status_code == 401


def test_resolve_needs_json(client: FlaskClient, auth: Auth, three: dict[str, int]) -> None:
    response = client.post(
        f"{BASE}/{three['urgent']}/resolve",
        headers=auth.headers(World.cx1),
        data="note=hi",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 415


def test_every_read_and_change_is_audited(
    client: FlaskClient, auth: Auth, three: dict[str, int], rt: Runtime, world: World
) -> None:
    h = auth.headers(World.cx1)
    url = f"{BASE}/{three['urgent']}"
    client.get(BASE, headers=h)
    client.get(url, headers=h)
    client.post(f"{url}/acknowledge", headers=h)
    client.post(f"{url}/reassign", headers=h, json={"clinician_id": world.clinician_x2})
    client.post(f"{url}/resolve", headers=h, json={"note": "Done."})
    assert audit_actions(rt)[-5:] == [
        "escalation.list",
        "escalation.read",
        "escalation.acknowledge",
        "escalation.reassign",
        "escalation.resolve",
    ]
    with rt.database.unit_of_work() as s:
        read = s.scalars(select(AuditEvent).where(AuditEvent.action == "escalation.read")).one()
        assert (read.actor_id, read.target_id, read.clinic_id) == (
            world.clinician_x1,
            str(three["urgent"]),
            world.clinic_x,
        )
    rt.dispatcher.drain()
