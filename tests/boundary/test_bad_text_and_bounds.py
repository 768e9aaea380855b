"""Text no database can store, ids past INTEGER, dates at datetime's limits, JWTs without exp.

Each of these answered 500 (issue 15 items 2, 7, 8); each must be a 4xx problem document
that changes nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt as pyjwt
import pytest
from flask.testing import FlaskClient

from services.runtime import Runtime
from tests.api.helpers import row_counts
from tests.escalations.support import SUICIDAL, phq9, raise_for, signed_form
from tests.schedule.support import session_body
from tests.support.selfreport import REPORT_URL, report_body
from tests.support.suite import Auth
from tests.support.world import World, patient_body

HALF_EMOJI = "\ud83d"
SMS = "/webhooks/twilio/sms"


def _raw_post(client: FlaskClient, url: str, body: dict[str, Any], **headers: str) -> Any:
    # json.dumps escapes the lone surrogate as "\ud83d", exactly what a phone app sends.
    return client.post(
        url, data=json.dumps(body), headers={**headers, "Content-Type": "application/json"}
    )


def _assert_refused(response: Any, status: int = 422) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"


def test_half_an_emoji_in_a_symptom_note_is_422(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime
) -> None:
    headers = auth.headers(World.pa_phone)
    before = row_counts(rt.database)
    body = report_body(notes=f"felt odd {HALF_EMOJI}")
    response = _raw_post(client, REPORT_URL, body, **headers)
    _assert_refused(response)
    assert "body" in response.get_json()["errors"]
    assert row_counts(rt.database) == before


@pytest.mark.parametrize("field", ["username", "password"])
def test_half_an_emoji_in_the_login_fields_is_422(
    client: FlaskClient, world: World, field: str
) -> None:
    body = {"username": World.cx1, "password": World.PASSWORD} | {field: "x" + HALF_EMOJI}
    _assert_refused(_raw_post(client, "/api/v1/auth/login", body))


def test_half_an_emoji_in_staff_fields_is_422(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime
) -> None:
    staff = auth.headers(World.cx1)
    admin = auth.headers(World.admin)
    before = row_counts(rt.database)
    _assert_refused(
        _raw_post(client, "/api/v1/patients", patient_body(name="Ann" + HALF_EMOJI), **staff)
    )
    started = rt.clock.now() - timedelta(hours=1)
    _assert_refused(
        _raw_post(
            client,
            f"/api/v1/patients/{world.patient_a}/sessions",
            session_body(started, notes="calm" + HALF_EMOJI),
            **staff,
        )
    )
    _assert_refused(
        _raw_post(
            client,
            "/api/v1/clinics",
            {"name": "Clinic" + HALF_EMOJI, "timezone": "America/New_York"},
            **admin,
        )
    )
    assert row_counts(rt.database) == before
    ref = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0]
    _assert_refused(
        _raw_post(
            client,
            f"/api/v1/escalations/{ref.id}/resolve",
            {"note": "done" + HALF_EMOJI},
            **staff,
        )
    )


def test_nul_in_a_query_string_outside_the_api_is_refused(client: FlaskClient) -> None:
    response = client.get("/healthz?x=%00")
    _assert_refused(response)


def _inbound(client: FlaskClient, params: dict[str, str]) -> Any:
    return client.post(SMS, data=params, headers=signed_form(SMS, params))


def test_signed_ack_of_a_huge_id_is_refused_politely(
    client: FlaskClient, world: World, rt: Runtime
) -> None:
    before = row_counts(rt.database)
    response = _inbound(client, {"From": "+12025550101", "Body": "ACK 9999999999"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "could not be acknowledged" in response.get_data(as_text=True)
    assert row_counts(rt.database) == before


def test_nul_in_a_signed_webhook_from_is_a_4xx(client: FlaskClient, world: World) -> None:
    response = _inbound(client, {"From": "+1202555\x000101", "Body": "STOP"})
    _assert_refused(response)
    response = client.post(
        "/webhooks/twilio/status",
        data=(params := {"MessageSid": "SM\x00", "MessageStatus": "delivered"}),
        headers=signed_form("/webhooks/twilio/status", params),
    )
    _assert_refused(response)


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+00:00", "0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-01:00"]
)
def test_a_session_at_the_ends_of_time_is_422(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, when: str
) -> None:
    staff = auth.headers(World.cx1)
    body = session_body(rt.clock.now() - timedelta(hours=1))
    body["started_at"] = when
    before = row_counts(rt.database)
    response = client.post(f"/api/v1/patients/{world.patient_a}/sessions", json=body, headers=staff)
    _assert_refused(response)
    assert "started_at" in response.get_json()["errors"]
    body = session_body(rt.clock.now() - timedelta(hours=1))
    body["vitals"][0]["at"] = when
    response = client.post(f"/api/v1/patients/{world.patient_a}/sessions", json=body, headers=staff)
    _assert_refused(response)
    assert row_counts(rt.database) == before


def test_self_report_answered_at_year_one_is_422(
    client: FlaskClient, auth: Auth, world: World
) -> None:
    body = report_body(answered_at="0001-01-01T00:00:00+00:00")
    _assert_refused(client.post(REPORT_URL, json=body, headers=auth.headers(World.pa_phone)))


def test_a_token_without_exp_is_refused(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime
) -> None:
    token = auth.login(World.pa_phone, World.PASSWORD)["access_token"]
    claims = pyjwt.decode(token, options={"verify_signature": False})
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    del claims["exp"]
    claims["iat"] = datetime.now(UTC)
    forever = pyjwt.encode(claims, rt.settings.jwt_secret_key, algorithm="HS256")
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {forever}"})
    _assert_refused(response, 401)


def test_a_whole_emoji_is_fine(client: FlaskClient, auth: Auth, world: World) -> None:
    """Only an unpaired surrogate is refused: "\\ud83d\\ude00" is one character, 😀."""
    body = json.dumps(report_body(notes="better today \ud83d\ude00"))
    response = client.post(
        REPORT_URL,
        data=body,
        headers={**auth.headers(World.pa_phone), "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)


def test_a_json_key_with_half_an_emoji_is_422(client: FlaskClient, world: World) -> None:
    response = client.post(
        "/api/v1/auth/login",
        data='{"\\udc00": 1, "username": "a", "password": "b"}',
        headers={"Content-Type": "application/json"},
    )
    _assert_refused(response)
