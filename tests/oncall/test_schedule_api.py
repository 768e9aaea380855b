"""PUT/GET /api/v1/clinics/{id}/on-call and PATCH /api/v1/clinicians/{id}: shape, bad input,
scoping and audit. Every refusal is a problem document and leaves the stored data as it was."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from services.runtime import Runtime
from store.models import User
from tests.oncall.support import DR_A, DR_B, add_clinician, audit_actions, rotation, stored_schedule
from tests.support.suite import Auth
from tests.support.world import World


@pytest.fixture
def pair(rt: Runtime, world: World) -> tuple[int, int]:
    return (
        add_clinician(rt, world.clinic_x, email="a@tandem.test", phone=DR_A),
        add_clinician(rt, world.clinic_x, email="b@tandem.test", phone=DR_B),
    )


def url(clinic_id: int) -> str:
    return f"/api/v1/clinics/{clinic_id}/on-call"


def good_body(a: int, b: int) -> dict[str, Any]:
    return {
        "tiers": {"1": rotation([a, b], starts_on="2026-10-26")},
        "overrides": [
            {
                "tier": 1,
                "clinician_id": b,
                "start": "2026-11-03T00:00:00+00:00",
                "end": "2026-11-04T00:00:00+00:00",
            }
        ],
    }


def test_put_then_get_says_who_is_on_call_at_any_instant(
    client: FlaskClient, auth: Auth, rt: Runtime, world: World, pair: tuple[int, int]
) -> None:
    a, b = pair
    h = auth.headers(World.cx1)
    put = client.put(url(world.clinic_x), json=good_body(a, b), headers=h)
    assert put.status_code == 200, put.get_json()
    # "Now" is 2 Nov 14:00 UTC, after that Monday's 08:00 EST (13:00 UTC) hand-off: B's week,
    # up to the next boundary, the start of the override the next day.
    assert put.get_json()["tiers"] == {
        "1": {"clinician_id": b, "until": "2026-11-03T00:00:00+00:00"}
    }
    before = client.get(url(world.clinic_x) + "?at=2026-11-02T12:59:00%2B00:00", headers=h)
    assert before.status_code == 200
    assert before.get_json()["at"] == "2026-11-02T12:59:00+00:00"
    assert before.get_json()["tiers"] == {
        "1": {"clinician_id": a, "until": "2026-11-02T13:00:00+00:00"}
    }
    schedule = before.get_json()["schedule"]
    assert schedule["tiers"]["1"] == rotation([a, b], starts_on="2026-10-26")
    assert schedule["overrides"][0]["clinician_id"] == b
    # The admin may read and write any clinic's schedule.
    admin = auth.headers(World.admin)
    assert client.get(url(world.clinic_x), headers=admin).status_code == 200
    assert {"oncall.update", "oncall.read"} <= set(audit_actions(rt))


def test_an_empty_tiers_object_clears_the_schedule(
    client: FlaskClient, auth: Auth, rt: Runtime, world: World, pair: tuple[int, int]
) -> None:
    h = auth.headers(World.cx1)
    assert client.put(url(world.clinic_x), json=good_body(*pair), headers=h).status_code == 200
    cleared = client.put(url(world.clinic_x), json={"tiers": {}}, headers=h)
    assert cleared.status_code == 200
    assert cleared.get_json()["tiers"] == {}
    assert stored_schedule(rt, world.clinic_x) == ({}, {"items": []})


def _bad_bodies(a: int, b: int, foreign: int) -> list[tuple[str, dict[str, Any], str]]:
    tier = rotation([a, b], starts_on="2026-10-26")
    day = {"tier": 1, "clinician_id": a}
    return [
        (
            "a clinician of another clinic",
            {"tiers": {"1": rotation([a, foreign], starts_on="2026-10-26")}},
            "tiers.1.rotation",
        ),
        ("an empty rotation", {"tiers": {"1": {**tier, "rotation": []}}}, "tiers"),
        (
            "overlapping overrides",
            {
                "tiers": {"1": tier},
                "overrides": [
                    {**day, "start": "2026-11-03T00:00:00Z", "end": "2026-11-04T00:00:00Z"},
                    {
                        **day,
                        "clinician_id": b,
                        "start": "2026-11-03T12:00:00Z",
                        "end": "2026-11-05T00:00:00Z",
                    },
                ],
            },
            "overrides.1",
        ),
        ("a hand-off not HH:MM", {"tiers": {"1": {**tier, "handoff": "8am"}}}, "tiers"),
        ("a hand-off of 24:00", {"tiers": {"1": {**tier, "handoff": "24:00"}}}, "tiers"),
        ("length_days 0", {"tiers": {"1": {**tier, "length_days": 0}}}, "tiers"),
        ("length_days as text", {"tiers": {"1": {**tier, "length_days": "7"}}}, "tiers"),
        ("tier 4", {"tiers": {"4": tier}}, "tiers"),
        ("no tiers at all", {"overrides": []}, "tiers"),
        ("a year out of range", {"tiers": {"1": {**tier, "starts_on": "9999-12-31"}}}, "tiers"),
        (
            "an override ending before it starts",
            {
                "tiers": {"1": tier},
                "overrides": [
                    {**day, "start": "2026-11-04T00:00:00Z", "end": "2026-11-03T00:00:00Z"}
                ],
            },
            "overrides",
        ),
        (
            "an override without an offset",
            {
                "tiers": {"1": tier},
                "overrides": [{**day, "start": "2026-11-03T00:00:00", "end": "2026-11-04T00:00"}],
            },
            "overrides",
        ),
        (
            "an override for a clinician of another clinic",
            {
                "tiers": {"1": tier},
                "overrides": [
                    {
                        **day,
                        "clinician_id": foreign,
                        "start": "2026-11-03T00:00:00Z",
                        "end": "2026-11-04T00:00:00Z",
                    }
                ],
            },
            "overrides.0.clinician_id",
        ),
    ]


def test_bad_schedules_are_422_and_change_nothing(
    client: FlaskClient, auth: Auth, rt: Runtime, world: World, pair: tuple[int, int]
) -> None:
    a, b = pair
    h = auth.headers(World.cx1)
    assert client.put(url(world.clinic_x), json=good_body(a, b), headers=h).status_code == 200
    kept = stored_schedule(rt, world.clinic_x)
    for label, body, field in _bad_bodies(a, b, world.clinician_y1):
        response = client.put(url(world.clinic_x), json=body, headers=h)
        assert response.status_code == 422, (label, response.get_json())
        assert response.mimetype == "application/problem+json"
        errors = response.get_json()["errors"]
        assert any(key.startswith(field) for key in errors), (label, errors)
        assert stored_schedule(rt, world.clinic_x) == kept, label


def test_other_clinics_schedules_are_404(
    client: FlaskClient, auth: Auth, world: World, pair: tuple[int, int]
) -> None:
    h = auth.headers(World.cy1)
    assert client.get(url(world.clinic_x), headers=h).status_code == 404
    assert client.put(url(world.clinic_x), json=good_body(*pair), headers=h).status_code == 404
    admin = auth.headers(World.admin)
    assert client.get(url(999_999), headers=admin).status_code == 404


def test_at_must_be_an_aware_timestamp(client: FlaskClient, auth: Auth, world: World) -> None:
    h = auth.headers(World.cx1)
    for bad in ("yesterday", "2026-11-02T12:00:00", "0001-01-01T00:00:00%2B00:00"):
        response = client.get(url(world.clinic_x) + f"?at={bad}", headers=h)
        assert response.status_code == 422, bad


# --- PATCH /api/v1/clinicians/{id} -------------------------------------------------------


def clinician(rt: Runtime, user_id: int) -> User:
    with rt.database.unit_of_work() as s:
        found = s.get(User, user_id)
        assert found is not None
        return found


def test_a_clinician_sets_their_own_notify_rules_and_phone(
    client: FlaskClient, auth: Auth, rt: Runtime, world: World
) -> None:
    h = auth.headers(World.cx2)
    rules = [{"channel": "sms", "after_minutes": 0}, {"channel": "voice", "after_minutes": 5}]
    response = client.patch(
        f"/api/v1/clinicians/{world.clinician_x2}",
        json={"notify": rules, "phone": "+12025550122", "name": "Dr X2", "on_call_tier": 3},
        headers=h,
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["notify"], body["phone"], body["name"], body["on_call_tier"]) == (
        rules,
        "+12025550122",
        "Dr X2",
        3,
    )
    stored = clinician(rt, world.clinician_x2)
    assert (stored.notify, stored.phone, stored.on_call_tier) == (rules, "+12025550122", 3)
    assert "clinician.update" in audit_actions(rt)
    # An admin may change anyone; null notify goes back to SMS only.
    admin = auth.headers(World.admin)
    reset = client.patch(
        f"/api/v1/clinicians/{world.clinician_x2}", json={"notify": None}, headers=admin
    )
    assert reset.status_code == 200
    assert reset.get_json()["notify"] == [
        {"channel": "sms", "after_minutes": 0},
        {"channel": "voice", "after_minutes": 5},
    ]


def test_a_clinician_may_not_change_a_colleague(
    client: FlaskClient, auth: Auth, rt: Runtime, world: World
) -> None:
    h = auth.headers(World.cx1)
    colleague = client.patch(
        f"/api/v1/clinicians/{world.clinician_x2}", json={"name": "Hijacked"}, headers=h
    )
    assert colleague.status_code == 403
    foreign = client.patch(
        f"/api/v1/clinicians/{world.clinician_y1}", json={"name": "Hijacked"}, headers=h
    )
    assert foreign.status_code == 404
    patient = client.patch(
        f"/api/v1/clinicians/{world.patient_a}",
        json={"name": "x"},
        headers=auth.headers(World.admin),
    )
    assert patient.status_code == 404
    assert clinician(rt, world.clinician_x2).name == "clinician_x2"
    assert clinician(rt, world.clinician_y1).name == "clinician_y1"


@pytest.mark.parametrize(
    "body",
    [
        {"notify": [{"channel": "pigeon", "after_minutes": 0}]},
        {"notify": [{"channel": "voice", "after_minutes": -1}]},
        {"notify": [{"channel": "voice", "after_minutes": 121}]},
        {"notify": [{"channel": "voice", "after_minutes": "5"}]},
        {"notify": [{"channel": "sms", "after_minutes": 10}]},
        {"notify": [{"channel": "voice"}, {"channel": "voice", "after_minutes": 9}]},
        {"notify": {"channel": "voice"}},
        {"on_call_tier": 4},
        {"phone": "555-0102"},
        {"name": ""},
        {"role": "admin"},
    ],
)
def test_bad_clinician_changes_are_422_and_change_nothing(
    client: FlaskClient, auth: Auth, rt: Runtime, world: World, body: dict[str, Any]
) -> None:
    before = clinician(rt, world.clinician_x1)
    response = client.patch(
        f"/api/v1/clinicians/{world.clinician_x1}", json=body, headers=auth.headers(World.cx1)
    )
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    after = clinician(rt, world.clinician_x1)
    assert (after.notify, after.phone, after.name, after.on_call_tier, after.role) == (
        before.notify,
        before.phone,
        before.name,
        before.on_call_tier,
        before.role,
    )


def test_a_phone_already_in_use_is_409(
    client: FlaskClient, auth: Auth, rt: Runtime, world: World
) -> None:
    response = client.patch(
        f"/api/v1/clinicians/{world.clinician_x1}",
        json={"phone": "+12025550102"},
        headers=auth.headers(World.cx1),
    )
    assert response.status_code == 409
    assert clinician(rt, world.clinician_x1).phone == "+12025550101"


def test_now_is_the_default_instant(
    client: FlaskClient, auth: Auth, rt: Runtime, world: World
) -> None:
    body = client.get(url(world.clinic_x), headers=auth.headers(World.cx1)).get_json()
    assert datetime.fromisoformat(body["at"]) == rt.clock.now().astimezone(UTC)
    assert body["tiers"] == {} and body["schedule"] == {"tiers": {}, "overrides": []}
