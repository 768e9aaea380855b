"""Roles and scoping: admins manage clinics, clinicians see only their own clinic."""

from __future__ import annotations

from flask.testing import FlaskClient

from store import Database
from tests.api.helpers import assert_problem, row_counts
from tests.support.suite import Auth
from tests.support.world import World, patient_body


def test_admin_creates_a_clinic_and_a_clinician_who_can_work(
    client: FlaskClient, auth: Auth, world: World
) -> None:
    admin = auth.headers(World.admin)
    clinic = client.post(
        "/api/v1/clinics",
        headers=admin,
        json={
            "name": "Clinic Z",
            "timezone": "America/Chicago",
            "escalation_policy": {"ack_timeout_seconds": {"urgent": 300}, "repeat": 2},
        },
    )
    assert clinic.status_code == 201, clinic.get_json()
    created = clinic.get_json()
    assert created["name"] == "Clinic Z" and created["timezone"] == "America/Chicago"
    # Defaults fill the policy's gaps.
    assert created["escalation_policy"] == {
        "ack_timeout_seconds": {"urgent": 300, "high": 1800},
        "repeat": 2,
        "quiet_hours": {"start": "21:00", "end": "08:00"},
        "fallback_phone": None,
    }

    clinician = client.post(
        "/api/v1/clinicians",
        headers=admin,
        json={
            "clinic_id": created["id"],
            "name": "Dr Zed",
            "email": "Zed@Clinic-Z.example",
            "phone": "+1 202 555 0121",
            "password": "zed's long password",
            "on_call_tier": 1,
        },
    )
    assert clinician.status_code == 201, clinician.get_json()
    body = clinician.get_json()
    assert body["email"] == "zed@clinic-z.example" and body["phone"] == "+12025550121"
    assert body["clinic_id"] == created["id"] and "password" not in body

    zed = auth.headers("zed@clinic-z.example", "zed's long password")
    mine = client.get(f"/api/v1/clinics/{created['id']}", headers=zed)
    assert mine.status_code == 200 and mine.get_json()["id"] == created["id"]
    assert client.get("/api/v1/patients", headers=zed).get_json() == {
        "items": [],
        "next_cursor": None,
    }
    staff = client.get("/api/v1/clinicians", headers=zed).get_json()
    assert [c["id"] for c in staff] == [body["id"]]

    patched = client.patch(
        f"/api/v1/clinics/{created['id']}",
        headers=admin,
        json={"escalation_policy": {"quiet_hours": {"start": "22:00"}}},
    )
    assert patched.status_code == 200
    assert patched.get_json()["escalation_policy"]["quiet_hours"] == {
        "start": "22:00",
        "end": "08:00",
    }
    assert patched.get_json()["escalation_policy"]["ack_timeout_seconds"]["urgent"] == 300


def test_clinicians_see_and_change_only_their_own_clinics_patients(
    client: FlaskClient, auth: Auth, world: World, database: Database
) -> None:
    x1 = auth.headers(World.cx1)
    listed = client.get("/api/v1/patients", headers=x1).get_json()
    assert {p["id"] for p in listed["items"]} == {world.patient_a, world.patient_b}
    assert client.get(f"/api/v1/patients/{world.patient_a}", headers=x1).status_code == 200

    before = row_counts(database)
    foreign = world.patient_c_y
    not_found = [
        client.get(f"/api/v1/patients/{foreign}", headers=x1),
        client.patch(f"/api/v1/patients/{foreign}", headers=x1, json={"weight_kg": 90}),
        client.post(f"/api/v1/patients/{foreign}/activation", headers=x1),
        client.get(f"/api/v1/clinics/{world.clinic_y}", headers=x1),
        client.post(
            "/api/v1/patients",
            headers=x1,
            json=patient_body(clinic_id=world.clinic_y, phone="+12025550151"),
        ),
        # A clinician's id is not a patient's.
        client.get(f"/api/v1/patients/{world.clinician_x2}", headers=x1),
    ]
    bodies = [assert_problem(r, 404) for r in not_found]
    # A foreign record and a missing one read the same.
    missing = assert_problem(client.get("/api/v1/patients/99999", headers=x1), 404)
    assert bodies[0]["detail"] == missing["detail"]
    assert row_counts(database) == before

    y1 = auth.headers(World.cy1)
    assert {p["id"] for p in client.get("/api/v1/patients", headers=y1).get_json()["items"]} == {
        foreign
    }
    # Enrolling into one's own clinic by id is fine.
    own = client.post(
        "/api/v1/patients",
        headers=x1,
        json=patient_body(clinic_id=world.clinic_x, phone="+12025550152"),
    )
    assert own.status_code == 201 and own.get_json()["clinic_id"] == world.clinic_x


def test_clinicians_cannot_use_admin_endpoints(
    client: FlaskClient, auth: Auth, world: World, database: Database
) -> None:
    x1 = auth.headers(World.cx1)
    before = row_counts(database)
    for response in (
        client.get("/api/v1/clinics", headers=x1),
        client.post(
            "/api/v1/clinics", headers=x1, json={"name": "Mine", "timezone": "Europe/Paris"}
        ),
        client.patch(f"/api/v1/clinics/{world.clinic_x}", headers=x1, json={"name": "Renamed"}),
        client.post(
            "/api/v1/clinicians",
            headers=x1,
            json={
                "clinic_id": world.clinic_x,
                "name": "n",
                "email": "n@x.example",
                "phone": "+12025550122",
                "password": "long enough pw",
                "on_call_tier": 3,
            },
        ),
    ):
        assert_problem(response, 403)
    assert row_counts(database) == before


def test_patients_cannot_use_clinician_or_admin_endpoints(
    client: FlaskClient, auth: Auth, world: World, database: Database
) -> None:
    pa = auth.headers(World.pa_phone)
    before = row_counts(database)
    for response in (
        client.get("/api/v1/patients", headers=pa),
        client.get(f"/api/v1/patients/{world.patient_a}", headers=pa),
        client.patch(
            f"/api/v1/patients/{world.patient_a}",
            headers=pa,
            json={"maintenance_interval_days": 14},
        ),
        client.post("/api/v1/patients", headers=pa, json=patient_body()),
        client.post(f"/api/v1/patients/{world.patient_a}/activation", headers=pa),
        client.get("/api/v1/clinicians", headers=pa),
        client.get(f"/api/v1/clinics/{world.clinic_x}", headers=pa),
        client.post("/api/v1/clinics", headers=pa, json={"name": "P", "timezone": "UTC"}),
    ):
        assert_problem(response, 403)
    assert row_counts(database) == before


def test_admin_may_read_any_clinic_but_not_patients(
    client: FlaskClient, auth: Auth, world: World
) -> None:
    admin = auth.headers(World.admin)
    assert {c["id"] for c in client.get("/api/v1/clinics", headers=admin).get_json()} == {
        world.clinic_x,
        world.clinic_y,
    }
    assert client.get(f"/api/v1/clinics/{world.clinic_y}", headers=admin).status_code == 200
    staff_y = client.get(f"/api/v1/clinicians?clinic_id={world.clinic_y}", headers=admin)
    assert [c["id"] for c in staff_y.get_json()] == [world.clinician_y1]
    assert_problem(client.get("/api/v1/clinics/99999", headers=admin), 404)
    assert_problem(client.get(f"/api/v1/patients/{world.patient_a}", headers=admin), 403)


def test_patient_list_is_paginated(client: FlaskClient, auth: Auth, world: World) -> None:
    x1 = auth.headers(World.cx1)
    for n in range(3):
        response = client.post(
            "/api/v1/patients", headers=x1, json=patient_body(phone=f"+1202555016{n}", name=f"P{n}")
        )
        assert response.status_code == 201
    seen: list[int] = []
    cursor = None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/api/v1/patients{query}", headers=x1).get_json()
        assert len(page["items"]) <= 2
        seen.extend(p["id"] for p in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)
