"""Login, refresh, logout, throttling and patient activation over the API."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from notifications.log_sms import LogSmsSender
from services.runtime import Runtime
from store import Database
from store.clock import FrozenClock
from store.models import ActivationCode, OutboxMessage, User
from tests.api.helpers import assert_problem, row_counts
from tests.support.suite import Auth
from tests.support.world import World, patient_body

LOGIN = "/api/v1/auth/login"
ACTIVATE = "/api/v1/auth/activate"
NEW_PHONE = "+12025550150"
NEW_PASSWORD = "my new long password"
CODE = re.compile(r"\b(\d{6})\b")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: FlaskClient, username: str, password: str = World.PASSWORD) -> Any:
    return client.post(LOGIN, json={"username": username, "password": password})


def test_login_by_email_any_case_and_by_phone(client: FlaskClient, world: World) -> None:
    for username in (
        World.cx1,
        World.cx1.upper(),
        f"  {World.cx1} ",
        "+12025550101",
        "+1 202-555-0101",
    ):
        response = login(client, username)
        assert response.status_code == 200, (username, response.get_json())
        body = response.get_json()
        assert body["token_type"] == "Bearer"
        assert body["role"] == "clinician" and body["user_id"] == world.clinician_x1
        assert body["expires_in"] == 15 * 60
        assert (
            client.get("/api/v1/patients", headers=bearer(body["access_token"])).status_code == 200
        )
    patient = login(client, World.pa_phone)
    assert patient.status_code == 200
    assert patient.get_json()["role"] == "patient"


def test_unknown_user_and_wrong_password_get_the_same_answer(
    client: FlaskClient, world: World
) -> None:
    responses = [
        login(client, World.cx1, "not the password"),
        login(client, World.pa_phone, "not the password"),
        login(client, "nobody@tandem.test", "not the password"),
        login(client, "+12025550188", "not the password"),
        login(client, "+1202CALLNOW", "not the password"),
    ]
    bodies = [assert_problem(response, 401) for response in responses]
    assert all(body == bodies[0] for body in bodies), bodies


def test_a_patient_not_yet_activated_cannot_log_in(
    client: FlaskClient, auth: Auth, world: World
) -> None:
    enrolled = client.post(
        "/api/v1/patients", headers=auth.headers(World.cx1), json=patient_body(phone=NEW_PHONE)
    )
    assert enrolled.status_code == 201
    for password in ("", "anything at all"):
        response = client.post(LOGIN, json={"username": NEW_PHONE, "password": password or "x"})
        assert_problem(response, 401)


def test_refresh_gives_a_working_access_token(client: FlaskClient, world: World) -> None:
    tokens = login(client, World.cx1).get_json()
    response = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 15 * 60
    assert body["access_token"] != tokens["access_token"]
    assert client.get("/api/v1/patients", headers=bearer(body["access_token"])).status_code == 200


def test_logout_revokes_access_and_refresh_tokens(client: FlaskClient, world: World) -> None:
    tokens = login(client, World.cx1).get_json()
    other = login(client, World.cx1).get_json()
    refreshed = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    new_access = refreshed.get_json()["access_token"]

    response = client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]))
    assert response.status_code == 204
    assert response.get_data() == b""

    for token in (tokens["access_token"], new_access):
        assert_problem(client.get("/api/v1/patients", headers=bearer(token)), 401)
        assert_problem(client.post("/api/v1/auth/logout", headers=bearer(token)), 401)
    assert_problem(
        client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])), 401
    )
    # Another login of the same user is a separate session and keeps working.
    assert client.get("/api/v1/patients", headers=bearer(other["access_token"])).status_code == 200


def test_a_deleted_or_deactivated_users_tokens_stop_working(
    client: FlaskClient, database: Database, clock: FrozenClock, world: World
) -> None:
    deleted = login(client, World.cx2).get_json()
    deactivated = login(client, World.cx3).get_json()
    with database.unit_of_work() as session:
        session.get_one(User, world.clinician_x2).deleted_at = clock.now()
        session.get_one(User, world.clinician_x3).is_active = False
    for tokens in (deleted, deactivated):
        assert_problem(client.get("/api/v1/patients", headers=bearer(tokens["access_token"])), 401)
        assert_problem(
            client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])), 401
        )
    assert_problem(login(client, World.cx2), 401)
    assert_problem(login(client, World.cx3), 401)


def test_login_is_rate_limited_and_the_limit_lifts(
    client: FlaskClient, clock: FrozenClock, world: World
) -> None:
    for _ in range(5):
        assert_problem(login(client, World.cx1, "wrong password"), 401)
        clock.advance(timedelta(seconds=10))
    # Even the right password is refused while the limit holds; 429 says how long to wait.
    refused = login(client, World.cx1)
    assert_problem(refused, 429)
    retry_after = int(refused.headers["Retry-After"])
    assert 15 * 60 - 50 <= retry_after <= 15 * 60 - 40
    # Spelling the username differently does not escape the count.
    assert_problem(login(client, World.cx1.upper()), 429)
    # Other users are not affected.
    assert login(client, World.cx2).status_code == 200

    clock.advance(timedelta(seconds=retry_after - 1))
    assert_problem(login(client, World.cx1), 429)
    clock.advance(timedelta(seconds=1))
    assert login(client, World.cx1).status_code == 200
    # Success clears the count: one more failure is an ordinary 401.
    assert_problem(login(client, World.cx1, "wrong password"), 401)


def test_phone_spellings_share_one_failure_count(client: FlaskClient, world: World) -> None:
    spellings = [
        "+12025550101",
        "+1 202 555 0101",
        "+1-202-555-0101",
        "+1 (202) 555-0101",
        "+1.202.555.0101",
    ]
    for username in spellings:
        assert_problem(login(client, username, "wrong password"), 401)
    assert_problem(login(client, "+1 202 5550101"), 429)


# --- activation -------------------------------------------------------------------------


def enrol(client: FlaskClient, auth: Auth, phone: str = NEW_PHONE) -> int:
    response = client.post(
        "/api/v1/patients", headers=auth.headers(World.cx1), json=patient_body(phone=phone)
    )
    assert response.status_code == 201, response.get_json()
    patient_id: int = response.get_json()["id"]
    return patient_id


def delivered_code(rt: Runtime, sms: LogSmsSender, phone: str = NEW_PHONE) -> str:
    rt.dispatcher.drain()
    texts = [body for to, body in sms.sent if to == phone]
    assert texts, list(sms.sent)
    match = CODE.search(texts[-1])
    assert match, texts[-1]
    return match.group(1)


def activate(
    client: FlaskClient, code: str, *, phone: str = NEW_PHONE, password: str = NEW_PASSWORD
) -> Any:
    return client.post(ACTIVATE, json={"phone": phone, "code": code, "password": password})


def test_activation_end_to_end(
    client: FlaskClient,
    auth: Auth,
    rt: Runtime,
    sms: LogSmsSender,
    database: Database,
    world: World,
) -> None:
    patient_id = enrol(client, auth)
    with database.session() as session:
        queued = session.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient_id == patient_id)
        ).all()
    assert [(m.purpose, m.to_number, m.status) for m in queued] == [
        ("activation", NEW_PHONE, "pending")
    ]
    assert not sms.sent
    code = delivered_code(rt, sms)
    text = sms.sent[-1][1]
    assert "Test Patient" not in text and "ketamine" not in text.lower()

    response = activate(client, code)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["role"] == "patient" and body["user_id"] == patient_id
    assert body["token_type"] == "Bearer" and body["refresh_token"]

    assert login(client, NEW_PHONE, NEW_PASSWORD).status_code == 200
    shown = client.get(f"/api/v1/patients/{patient_id}", headers=auth.headers(World.cx1))
    assert shown.get_json()["activated"] is True
    # The code is used up.
    assert_problem(activate(client, code, password="yet another password"), 401)


def test_five_wrong_codes_lock_the_code(
    client: FlaskClient, auth: Auth, rt: Runtime, sms: LogSmsSender, world: World
) -> None:
    enrol(client, auth)
    code = delivered_code(rt, sms)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    bodies = [assert_problem(activate(client, wrong), 401) for _ in range(5)]
    locked = assert_problem(activate(client, code), 401)
    assert locked == bodies[0]
    assert_problem(login(client, NEW_PHONE, NEW_PASSWORD), 401)


def test_the_code_expires_after_24_hours(
    client: FlaskClient,
    auth: Auth,
    rt: Runtime,
    sms: LogSmsSender,
    clock: FrozenClock,
    world: World,
) -> None:
    enrol(client, auth)
    code = delivered_code(rt, sms)
    clock.advance(timedelta(hours=24))
    assert_problem(activate(client, code), 401)


def test_the_code_works_until_it_expires(
    client: FlaskClient,
    auth: Auth,
    rt: Runtime,
    sms: LogSmsSender,
    clock: FrozenClock,
    world: World,
) -> None:
    enrol(client, auth)
    code = delivered_code(rt, sms)
    clock.advance(timedelta(hours=23, minutes=59))
    assert activate(client, code).status_code == 200


def test_a_new_code_invalidates_the_old_one(
    client: FlaskClient,
    auth: Auth,
    rt: Runtime,
    sms: LogSmsSender,
    database: Database,
    world: World,
) -> None:
    patient_id = enrol(client, auth)
    old = delivered_code(rt, sms)
    response = client.post(
        f"/api/v1/patients/{patient_id}/activation", headers=auth.headers(World.cx1)
    )
    assert response.status_code == 202
    new = delivered_code(rt, sms)
    assert len([1 for to, _ in sms.sent if to == NEW_PHONE]) == 2
    if old != new:
        assert_problem(activate(client, old), 401)
    assert activate(client, new).status_code == 200
    with database.session() as session:
        codes = session.scalars(
            select(ActivationCode).where(ActivationCode.user_id == patient_id)
        ).all()
    assert len(codes) == 2 and all(c.used_at is not None for c in codes)


def test_activation_is_rate_limited(
    client: FlaskClient,
    auth: Auth,
    rt: Runtime,
    sms: LogSmsSender,
    clock: FrozenClock,
    world: World,
) -> None:
    enrol(client, auth)
    code = delivered_code(rt, sms)
    wrong = f"{(int(code) + 7) % 1_000_000:06d}"
    responses = [activate(client, wrong) for _ in range(12)]
    statuses = [r.status_code for r in responses]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
    assert int(responses[-1].headers["Retry-After"]) >= 1
    assert_problem(responses[-1], 429)


def test_activation_needs_a_strong_password_and_keeps_the_code(
    client: FlaskClient,
    auth: Auth,
    rt: Runtime,
    sms: LogSmsSender,
    database: Database,
    world: World,
) -> None:
    enrol(client, auth)
    code = delivered_code(rt, sms)
    before = row_counts(database)
    body = assert_problem(activate(client, code, password="short"), 422)
    assert "password" in body["errors"]
    assert row_counts(database) == before
    assert activate(client, code).status_code == 200


def test_activation_of_a_stranger_looks_like_a_wrong_code(
    client: FlaskClient, auth: Auth, rt: Runtime, sms: LogSmsSender, world: World
) -> None:
    enrol(client, auth)
    code = delivered_code(rt, sms)
    wrong_code = assert_problem(activate(client, f"{(int(code) + 1) % 1_000_000:06d}"), 401)
    stranger = assert_problem(activate(client, code, phone="+12025550189"), 401)
    clinician = assert_problem(activate(client, code, phone="+12025550101"), 401)
    assert wrong_code == stranger == clinician


def test_activation_for_an_activated_patient_needs_a_fresh_code(
    client: FlaskClient, world: World
) -> None:
    assert_problem(activate(client, "123456", phone=World.pa_phone), 401)
    assert login(client, World.pa_phone).status_code == 200
