"""The foundation end to end over real HTTP: a real server, the real Twilio SDK, a stand-in.

An admin sets up a clinic and a clinician; the clinician enrols one patient and is refused
another with every reason; the activation SMS travels outbox -> dispatcher thread -> Twilio
SDK -> the stand-in; the patient activates with the code from that SMS and logs in.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pytest_httpserver import HTTPServer
from werkzeug.serving import BaseWSGIServer, make_server

from api.app import create_app
from config import Settings
from notifications.outbox import DispatcherWorker
from notifications.twilio_sms import TwilioSmsSender
from services import clinics
from services.runtime import Runtime
from store import Database
from store.clock import FrozenClock
from tests.support.world import ELIGIBLE_SCREENING

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-auth-token-for-tests"
FROM_NUMBER = "+12025550100"
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
PUBLIC_URL = "https://tandem.example.org"
ADMIN_EMAIL = "admin@e2e.example"
ADMIN_PASSWORD = "the admin's long password"
PATIENT_PHONE = "+12025550170"


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: Any


@dataclass
class Tandem:
    base_url: str
    rt: Runtime
    twilio: HTTPServer
    used: set[tuple[str, str]]

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> Reply:
        """One request over a fresh HTTP connection, as a phone app would send it."""
        parts = urlsplit(self.base_url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        headers = {"Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        self.used.add((method.lower(), path))
        return Reply(response.status, response.headers, json.loads(raw) if raw else None)

    def sms_to(self, number: str, *, timeout: float = 10.0) -> dict[str, list[str]]:
        """The form the stand-in received for ``number`` (waits for the dispatcher thread)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for request, _response in list(self.twilio.log):
                form = parse_qs(request.get_data(as_text=True))
                if form.get("To") == [number]:
                    return form
            time.sleep(0.02)
        raise AssertionError(f"no SMS reached the Twilio stand-in for {number}")


@pytest.fixture
def tandem(
    settings: Settings, database: Database, clock: FrozenClock, httpserver: HTTPServer
) -> Iterator[Tandem]:
    httpserver.expect_request(MESSAGES_PATH, method="POST").respond_with_json(
        {"sid": "SM" + "ab" * 16, "status": "queued", "account_sid": ACCOUNT_SID}, 201
    )
    sender = TwilioSmsSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        api_base_url=httpserver.url_for("").rstrip("/"),
        timeout=5.0,
    )
    rt = Runtime.from_settings(
        settings.with_overrides(public_base_url=PUBLIC_URL),
        database=database,
        sms=sender,
        clock=clock,
    )
    with database.unit_of_work() as session:
        clinics.create_staff(
            session,
            actor=None,
            role="admin",
            name="Admin",
            email=ADMIN_EMAIL,
            phone=None,
            password=ADMIN_PASSWORD,
            clinic_id=None,
            on_call_tier=None,
            now=clock.now(),
        )
    server: BaseWSGIServer = make_server("127.0.0.1", 0, create_app(rt=rt), threaded=True)
    serving = threading.Thread(target=server.serve_forever, name="e2e-http", daemon=True)
    serving.start()
    # A long sweep: the SMS must arrive because the enrolment's commit woke the worker.
    worker = DispatcherWorker(rt.dispatcher, sweep_seconds=60)
    worker.start()
    try:
        yield Tandem(f"http://127.0.0.1:{server.server_port}", rt, httpserver, set())
    finally:
        worker.stop()
        server.shutdown()
        server.server_close()
        serving.join(5)
        sender.close()


def test_admin_to_activated_patient_over_real_http(tandem: Tandem) -> None:
    assert tandem.call("GET", "/healthz").body == {"status": "ok"}
    assert tandem.call("GET", "/readyz").status == 200

    # The admin sets up a clinic and a clinician.
    login = tandem.call(
        "POST", "/api/v1/auth/login", {"username": ADMIN_EMAIL.upper(), "password": ADMIN_PASSWORD}
    )
    assert login.status == 200, login.body
    admin = login.body["access_token"]
    clinic = tandem.call(
        "POST", "/api/v1/clinics", {"name": "E2E Clinic", "timezone": "America/New_York"}, admin
    )
    assert clinic.status == 201, clinic.body
    clinician = tandem.call(
        "POST",
        "/api/v1/clinicians",
        {
            "clinic_id": clinic.body["id"],
            "name": "Dr E2E",
            "email": "doc@e2e.example",
            "phone": "+12025550171",
            "password": "the doctor's long password",
            "on_call_tier": 1,
        },
        admin,
    )
    assert clinician.status == 201, clinician.body

    doc_login = tandem.call(
        "POST",
        "/api/v1/auth/login",
        {"username": "doc@e2e.example", "password": "the doctor's long password"},
    )
    assert doc_login.status == 200
    doc = doc_login.body["access_token"]

    # An ineligible patient is refused with every reason, as a problem document.
    refused = tandem.call(
        "POST",
        "/api/v1/patients",
        {
            "name": "Not Eligible",
            "phone": "+12025550172",
            "timezone": "America/New_York",
            "bipolar": False,
            "weight_kg": 65,
            "screening": {
                **ELIGIBLE_SCREENING,
                "failed_antidepressant_trials": 0,
                "prior_inadequate_response": [],
                "uncontrolled_hypertension": True,
                "uncontrolled_seizure_disorder": True,
            },
        },
        doc,
    )
    assert refused.status == 422
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert set(refused.body["errors"]) == {
        "screening.failed_antidepressant_trials",
        "screening.prior_inadequate_response",
        "screening.uncontrolled_hypertension",
        "screening.uncontrolled_seizure_disorder",
    }

    # An eligible patient is enrolled, and the activation SMS goes out through Twilio's SDK.
    enrolled = tandem.call(
        "POST",
        "/api/v1/patients",
        {
            "name": "Pat Eligible",
            "phone": PATIENT_PHONE,
            "timezone": "America/Chicago",
            "bipolar": False,
            "weight_kg": 72.5,
            "care_team": [clinician.body["id"]],
            "screening": ELIGIBLE_SCREENING,
        },
        doc,
    )
    assert enrolled.status == 201, enrolled.body
    assert enrolled.body["status"] == "enrolled" and enrolled.body["activated"] is False
    patient_id = enrolled.body["id"]

    form = tandem.sms_to(PATIENT_PHONE)
    assert form["From"] == [FROM_NUMBER]
    assert form["StatusCallback"] == [f"{PUBLIC_URL}/webhooks/twilio/status"]
    (text,) = form["Body"]
    assert "Pat" not in text and "ketamine" not in text.lower()
    match = re.search(r"\b(\d{6})\b", text)
    assert match, text
    (request, _) = tandem.twilio.log[0]
    assert request.authorization is not None
    assert request.authorization.username == ACCOUNT_SID
    # Only the eligible patient was texted.
    assert len(tandem.twilio.log) == 1

    # The patient activates with the code and logs in.
    activated = tandem.call(
        "POST",
        "/api/v1/auth/activate",
        {
            "phone": "+1 202 555 0170",
            "code": match.group(1),
            "password": "pat's long password",
        },
    )
    assert activated.status == 200, activated.body
    assert activated.body["role"] == "patient" and activated.body["user_id"] == patient_id
    patient_login = tandem.call(
        "POST", "/api/v1/auth/login", {"username": PATIENT_PHONE, "password": "pat's long password"}
    )
    assert patient_login.status == 200
    # ...but may not use the clinician's endpoints.
    patient = patient_login.body["access_token"]
    denied = tandem.call("GET", f"/api/v1/patients/{patient_id}", token=patient)
    assert denied.status == 403

    shown = tandem.call("GET", f"/api/v1/patients/{patient_id}", token=doc)
    assert shown.status == 200 and shown.body["activated"] is True
    out = tandem.call("POST", "/api/v1/auth/logout", token=doc)
    assert out.status == 204
    assert tandem.call("GET", "/api/v1/patients", token=doc).status == 401

    # The served OpenAPI document describes every path this flow used.
    document = tandem.call("GET", "/openapi.json").body
    documented = {documented_pattern(p): p for p in document["paths"]}
    used = {(m, p) for m, p in tandem.used if p != "/openapi.json"}
    assert len(used) >= 10
    for method, path in used:
        found = [p for pattern, p in documented.items() if re.fullmatch(pattern, path)]
        assert found, f"{method.upper()} {path} is not in /openapi.json"
        assert method in document["paths"][found[0]], f"{method.upper()} {path} undocumented"


def documented_pattern(path: str) -> str:
    """A regex for a documented path: each {parameter} stands for an id."""
    return re.sub(r"\\\{[^}]+\\\}", "[0-9]+", re.escape(path))
