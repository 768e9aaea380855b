"""Secrets never reach the logs: passwords, tokens, activation codes, signing keys, Twilio's token.

The flow runs the production SMS path (the real Twilio SDK against a loopback stand-in): the
log backend is the embedded default and prints messages on purpose, so it is not used here.
Every log record of every logger is captured at DEBUG, with its formatted exception.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from api.app import create_app
from config import Settings
from notifications.twilio_sms import TwilioSmsSender, compute_twilio_signature
from services.runtime import Runtime
from store import Database
from store.clock import FrozenClock
from tests.support.world import World, build_world, patient_body

ACCOUNT_SID = "AC" + "5" * 32
AUTH_TOKEN = secrets.token_hex(16)
PUBLIC = "https://tandem.example.org"
PATIENT_PASSWORD = "Patient-" + secrets.token_hex(8)
PHONE = "+12025550175"


@pytest.fixture
def twilio_rt(
    settings: Settings, database: Database, clock: FrozenClock, httpserver: HTTPServer
) -> Iterator[Runtime]:
    bodies: list[tuple[str, str]] = []

    def messages(request: Request) -> Response:
        form = parse_qs(request.get_data(as_text=True))
        bodies.append((form.get("To", [""])[0], form.get("Body", [""])[0]))
        sid = "SM" + secrets.token_hex(16)
        return Response(
            f'{{"sid": "{sid}", "status": "queued", "account_sid": "{ACCOUNT_SID}"}}',
            status=201,
            content_type="application/json",
        )

    httpserver.expect_request(
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", method="POST"
    ).respond_with_handler(messages)
    tuned = settings.with_overrides(
        sms_backend="twilio",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from_number="+12025550199",
        twilio_api_base_url=httpserver.url_for("").rstrip("/"),
        public_base_url=PUBLIC,
        log_level="DEBUG",
    )
    sender = TwilioSmsSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number="+12025550199",
        api_base_url=httpserver.url_for("").rstrip("/"),
        timeout=5,
    )
    runtime = Runtime.from_settings(tuned, database=database, sms=sender, clock=clock)
    runtime.sent_bodies = bodies  # type: ignore[attr-defined]
    yield runtime
    sender.close()


@pytest.fixture
def twilio_app(twilio_rt: Runtime) -> Flask:
    return create_app(rt=twilio_rt)


def _signed_post(client: FlaskClient, path: str, form: dict[str, str]) -> int:
    signature = compute_twilio_signature(auth_token=AUTH_TOKEN, url=PUBLIC + path, params=form)
    response = client.post(path, data=form, headers={"X-Twilio-Signature": signature})
    return response.status_code


def test_no_secret_is_logged(
    twilio_app: Flask, twilio_rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world = build_world(twilio_rt)
    client = twilio_app.test_client()
    secrets_seen: list[str] = [
        World.PASSWORD,
        PATIENT_PASSWORD,
        AUTH_TOKEN,
        twilio_rt.settings.jwt_secret_key,
        twilio_rt.settings.secret_key,
    ]

    # Staff login, a failed login, enrolment (an activation code goes out by SMS).
    tokens = client.post(
        "/api/v1/auth/login", json={"username": World.cx1, "password": World.PASSWORD}
    ).get_json()
    secrets_seen += [tokens["access_token"], tokens["refresh_token"]]
    staff = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (
        client.post(
            "/api/v1/auth/login",
            json={"username": World.cx1, "password": "Wrong-" + PATIENT_PASSWORD},
        ).status_code
        == 401
    )
    secrets_seen.append("Wrong-" + PATIENT_PASSWORD)
    created = client.post("/api/v1/patients", json=patient_body(phone=PHONE), headers=staff)
    assert created.status_code == 201, created.get_json()
    twilio_rt.dispatcher.drain()
    codes = [
        m
        for to, body in twilio_rt.sent_bodies  # type: ignore[attr-defined]
        if to == PHONE
        for m in re.findall(r"\b\d{6}\b", body)
    ]
    assert codes, "no activation code was sent through the stand-in"
    secrets_seen += codes

    # A wrong code, then the right one: the patient sets a password and logs in.
    assert (
        client.post(
            "/api/v1/auth/activate",
            json={
                "phone": PHONE,
                "code": "000000" if codes[0] != "000000" else "111111",
                "password": PATIENT_PASSWORD,
            },
        ).status_code
        == 401
    )
    activated = client.post(
        "/api/v1/auth/activate",
        json={"phone": PHONE, "code": codes[0], "password": PATIENT_PASSWORD},
    )
    assert activated.status_code == 200, activated.get_json()
    patient = activated.get_json()
    secrets_seen += [patient["access_token"], patient["refresh_token"]]
    refreshed = client.post(
        "/api/v1/auth/refresh", headers={"Authorization": f"Bearer {patient['refresh_token']}"}
    )
    assert refreshed.status_code == 200
    secrets_seen.append(refreshed.get_json()["access_token"])

    # Patient reports (may page clinicians by SMS), and Twilio calls back.
    bearer = {"Authorization": f"Bearer {patient['access_token']}"}
    client.post(
        "/api/v1/checkins/phq9",
        headers=bearer,
        json={"answers": [3, 3, 3, 3, 3, 3, 3, 3, 2], "difficulty": 3},
    )
    twilio_rt.dispatcher.drain()
    assert (
        _signed_post(
            client,
            "/webhooks/twilio/sms",
            {"From": PHONE, "Body": "HELP", "MessageSid": "SM" + "1" * 32},
        )
        == 200
    )
    assert (
        client.post(
            "/webhooks/twilio/sms",
            data={"From": PHONE, "Body": "STOP"},
            headers={"X-Twilio-Signature": "forged"},
        ).status_code
        == 403
    )
    assert client.post("/api/v1/auth/logout", headers=bearer).status_code == 204
    assert world.patient_a

    logged = []
    for record in caplog.records:
        logged.append(record.getMessage())
        if record.exc_info:
            logged.append(logging.Formatter().formatException(record.exc_info))
        if record.exc_text:
            logged.append(record.exc_text)
    text = "\n".join(logged)
    assert len(caplog.records) > 0
    leaks = [
        s[:12] + "…"
        for s in secrets_seen
        if (re.search(rf"(?<!\d){re.escape(s)}(?!\d)", text) if s.isdigit() else s in text)
    ]
    assert not leaks, f"secrets found in the logs: {leaks}"


def test_database_errors_do_not_carry_bound_parameters(
    database: Database, clock: FrozenClock
) -> None:
    """A constraint error is logged with exc_info: its text must not hold the row's values."""
    from sqlalchemy.exc import IntegrityError

    from store.models import User

    marker = "$argon2id$never-log-me"
    with pytest.raises(IntegrityError) as caught, database.unit_of_work() as session:
        for _ in range(2):
            session.add(
                User(
                    role="clinician",
                    email="dup@tandem.test",
                    password_hash=marker,
                    name="Dup",
                    created_at=clock.now(),
                )
            )
        session.flush()
    assert marker not in str(caught.value)
