"""Brute force on login and activation is throttled: 429 with Retry-After, and no oracle."""

from __future__ import annotations

import re
from datetime import timedelta

from flask.testing import FlaskClient

from notifications.log_sms import LogSmsSender
from services.runtime import Runtime
from store.clock import FrozenClock
from tests.support.suite import Auth
from tests.support.world import World, patient_body

LOGIN = "/api/v1/auth/login"
ACTIVATE = "/api/v1/auth/activate"


def _assert_throttled(response_status: int, headers: dict[str, str]) -> None:
    assert response_status == 429
    retry_after = headers.get("Retry-After")
    assert retry_after is not None and retry_after.isdigit() and int(retry_after) > 0


def test_login_is_throttled_per_user(client: FlaskClient, world: World, clock: FrozenClock) -> None:
    statuses = []
    for _ in range(8):
        response = client.post(LOGIN, json={"username": World.cx1, "password": "wrong-password"})
        statuses.append(response.status_code)
    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}
    # The right password does not get through while throttled: no oracle for the attacker.
    response = client.post(LOGIN, json={"username": World.cx1, "password": World.PASSWORD})
    _assert_throttled(response.status_code, dict(response.headers))
    assert response.mimetype == "application/problem+json"
    # Another user is unaffected.
    assert (
        client.post(LOGIN, json={"username": World.cx2, "password": World.PASSWORD}).status_code
        == 200
    )


def test_login_throttle_ends_after_its_window(
    client: FlaskClient, world: World, clock: FrozenClock
) -> None:
    for _ in range(6):
        response = client.post(LOGIN, json={"username": World.cx1, "password": "wrong-password"})
    _assert_throttled(response.status_code, dict(response.headers))
    wait = int(response.headers["Retry-After"])
    clock.advance(timedelta(seconds=wait + 1))
    assert (
        client.post(LOGIN, json={"username": World.cx1, "password": World.PASSWORD}).status_code
        == 200
    )


def test_unknown_users_are_throttled_too(client: FlaskClient, world: World) -> None:
    statuses = [
        client.post(
            LOGIN, json={"username": "nobody@tandem.test", "password": "whatever-pass"}
        ).status_code
        for _ in range(7)
    ]
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429


def test_spraying_many_users_from_one_address_is_throttled(
    client: FlaskClient, world: World
) -> None:
    statuses = [
        client.post(
            LOGIN, json={"username": f"user{i}@tandem.test", "password": "wrong-password"}
        ).status_code
        for i in range(60)
    ]
    assert statuses[0] == 401
    assert statuses[-1] == 429


def test_activation_is_throttled(
    client: FlaskClient, world: World, auth: Auth, rt: Runtime, sms: LogSmsSender
) -> None:
    phone = "+12025550170"
    response = client.post(
        "/api/v1/patients", json=patient_body(phone=phone), headers=auth.headers(World.cx1)
    )
    assert response.status_code == 201, response.get_json()
    rt.dispatcher.drain()
    real = {m for to, body in sms.sent if to == phone for m in re.findall(r"\b\d{6}\b", body)}
    assert real, "the activation code was not sent"
    guesses = [f"{n:06d}" for n in range(40) if f"{n:06d}" not in real][:15]
    statuses = []
    last = None
    for guess in guesses:
        last = client.post(
            ACTIVATE, json={"phone": phone, "code": guess, "password": World.PASSWORD}
        )
        statuses.append(last.status_code)
    assert last is not None
    assert statuses[0] == 401
    _assert_throttled(last.status_code, dict(last.headers))
    assert 200 not in statuses
