"""Bearer tokens: only an unexpired HS256 token we signed, for a live user and session, works."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt as pyjwt
import pytest
from flask.testing import FlaskClient

from services.runtime import Runtime
from store.models import User
from tests.support.suite import Auth
from tests.support.world import World

ME = "/api/v1/me"
PATIENTS = "/api/v1/patients"


def _claims(auth: Auth, username: str) -> dict[str, Any]:
    token = auth.login(username, World.PASSWORD)["access_token"]
    claims: dict[str, Any] = pyjwt.decode(token, options={"verify_signature": False})
    return claims


def _unsigned(claims: dict[str, Any]) -> str:
    return pyjwt.encode(claims, key=None, algorithm="none")


def _assert_401(client: FlaskClient, path: str, token: str) -> None:
    response = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")


def test_a_valid_token_works(client: FlaskClient, auth: Auth, world: World) -> None:
    assert client.get(ME, headers=auth.headers(World.pa_phone)).status_code == 200


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_refused(client: FlaskClient, auth: Auth, world: World, alg: str) -> None:
    claims = _claims(auth, World.pa_phone)
    token = _unsigned(claims)
    _header, _, rest = token.partition(".")
    forged = (
        pyjwt.utils.base64url_encode(json.dumps({"alg": alg, "typ": "JWT"}).encode()).decode()
        + "."
        + rest
    )
    _assert_401(client, ME, forged)
    _assert_401(client, ME, token)


def test_wrong_key_is_refused(client: FlaskClient, auth: Auth, world: World) -> None:
    claims = _claims(auth, World.cx1)
    _assert_401(client, PATIENTS, pyjwt.encode(claims, "not-the-key" * 4, algorithm="HS256"))


def test_a_patient_cannot_forge_a_clinician_role(
    client: FlaskClient, auth: Auth, world: World
) -> None:
    claims = _claims(auth, World.pa_phone) | {"role": "clinician", "sub": str(world.clinician_x1)}
    _assert_401(client, PATIENTS, pyjwt.encode(claims, "guess" * 8, algorithm="HS256"))


def test_another_algorithm_with_the_right_key_is_refused(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime
) -> None:
    claims = _claims(auth, World.pa_phone)
    token = pyjwt.encode(claims, rt.settings.jwt_secret_key, algorithm="HS512")
    _assert_401(client, ME, token)


def test_expired_token_is_refused(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime
) -> None:
    claims = _claims(auth, World.pa_phone)
    past = datetime.now(UTC) - timedelta(hours=2)
    claims |= {"iat": past, "nbf": past, "exp": past + timedelta(minutes=15)}
    _assert_401(client, ME, pyjwt.encode(claims, rt.settings.jwt_secret_key, algorithm="HS256"))


def test_refresh_token_is_not_an_access_token(
    client: FlaskClient, auth: Auth, world: World
) -> None:
    _assert_401(client, ME, auth.login(World.pa_phone, World.PASSWORD)["refresh_token"])


@pytest.mark.parametrize("change", ["deleted", "disabled"])
def test_token_of_a_deleted_or_disabled_user_is_refused(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, change: str
) -> None:
    token = auth.login(World.pa_phone, World.PASSWORD)["access_token"]
    with rt.database.unit_of_work() as session:
        user = session.get(User, world.patient_a)
        assert user is not None
        if change == "deleted":
            user.deleted_at = rt.clock.now()
        else:
            user.is_active = False
    _assert_401(client, ME, token)


def test_logged_out_tokens_stop_working(client: FlaskClient, auth: Auth, world: World) -> None:
    tokens = auth.login(World.pa_phone, World.PASSWORD)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.post("/api/v1/auth/logout", headers=bearer).status_code == 204
    _assert_401(client, ME, tokens["access_token"])
    response = client.post(
        "/api/v1/auth/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer a.b.c",
        "Bearer " + "A" * 5000,
        "bearer x.y.z",
    ],
)
def test_malformed_authorization_headers(client: FlaskClient, world: World, header: str) -> None:
    response = client.get(ME, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
