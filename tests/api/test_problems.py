"""Every error is an RFC 9457 problem document, and no refused request stores anything."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_jwt_extended import create_access_token

from store import Database
from tests.api.helpers import assert_problem, row_counts
from tests.support.suite import Auth
from tests.support.world import ELIGIBLE_SCREENING, World, patient_body

ANON = ""
HUGE = 10**30


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return decoded


def clinician_body(world: World, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "clinic_id": world.clinic_x,
        "name": "New Clinician",
        "email": "new.clinician@tandem.test",
        "phone": "+12025550120",
        "password": "a long enough password",
        "on_call_tier": 2,
    }
    body.update(overrides)
    return body


def screening(**overrides: Any) -> dict[str, Any]:
    return {**ELIGIBLE_SCREENING, **overrides}


Case = tuple[str, str, str, Callable[[World], dict[str, Any]], int, set[str]]

# (who, method, path, request kwargs from the world, status, fields named in `errors`)
BAD_REQUESTS: dict[str, Case] = {
    "malformed json login": (
        ANON,
        "post",
        "/api/v1/auth/login",
        lambda w: {"data": '{"username": "x", ', "content_type": "application/json"},
        400,
        set(),
    ),
    "malformed json enrol": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"data": "{not json", "content_type": "application/json"},
        400,
        set(),
    ),
    "no token": (ANON, "get", "/api/v1/patients", lambda w: {}, 401, set()),
    "no token on create": (
        ANON,
        "post",
        "/api/v1/patients",
        lambda w: {"json": patient_body()},
        401,
        set(),
    ),
    "not a bearer token": (
        ANON,
        "get",
        "/api/v1/patients",
        lambda w: {"headers": {"Authorization": "Bearer not.a.jwt"}},
        401,
        set(),
    ),
    "basic auth": (
        ANON,
        "get",
        "/api/v1/patients",
        lambda w: {"headers": {"Authorization": "Basic eDp5"}},
        401,
        set(),
    ),
    "patient on clinician endpoint": (
        World.pa_phone,
        "get",
        "/api/v1/patients",
        lambda w: {},
        403,
        set(),
    ),
    "patient enrolling": (
        World.pa_phone,
        "post",
        "/api/v1/patients",
        lambda w: {"json": patient_body()},
        403,
        set(),
    ),
    "clinician creating a clinic": (
        World.cx1,
        "post",
        "/api/v1/clinics",
        lambda w: {"json": {"name": "Mine", "timezone": "Europe/Paris"}},
        403,
        set(),
    ),
    "clinician creating a clinician": (
        World.cx1,
        "post",
        "/api/v1/clinicians",
        lambda w: {"json": clinician_body(w)},
        403,
        set(),
    ),
    "clinician listing clinics": (World.cx1, "get", "/api/v1/clinics", lambda w: {}, 403, set()),
    "admin on clinician endpoint": (
        World.admin,
        "get",
        "/api/v1/patients",
        lambda w: {},
        403,
        set(),
    ),
    "unknown route": (World.cx1, "get", "/api/v1/nothing-here", lambda w: {}, 404, set()),
    "unknown route anonymous": (
        ANON,
        "post",
        "/api/v2/patients",
        lambda w: {"json": {}},
        404,
        set(),
    ),
    "foreign patient": (
        World.cx1,
        "get",
        "/api/v1/patients/{patient_c_y}",
        lambda w: {},
        404,
        set(),
    ),
    "foreign patient patch": (
        World.cx1,
        "patch",
        "/api/v1/patients/{patient_c_y}",
        lambda w: {"json": {"maintenance_interval_days": 7}},
        404,
        set(),
    ),
    "foreign patient activation": (
        World.cx1,
        "post",
        "/api/v1/patients/{patient_c_y}/activation",
        lambda w: {},
        404,
        set(),
    ),
    "foreign clinic": (World.cx1, "get", "/api/v1/clinics/{clinic_y}", lambda w: {}, 404, set()),
    "enrol into foreign clinic": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"json": patient_body(clinic_id=w.clinic_y)},
        404,
        set(),
    ),
    "clinician of unknown clinic": (
        World.admin,
        "post",
        "/api/v1/clinicians",
        lambda w: {"json": clinician_body(w, clinic_id=999_999)},
        404,
        set(),
    ),
    "huge id in path": (World.cx1, "get", f"/api/v1/patients/{HUGE}", lambda w: {}, 404, set()),
    "method not allowed": (World.cx1, "delete", "/api/v1/patients", lambda w: {}, 405, set()),
    "duplicate clinician email": (
        World.admin,
        "post",
        "/api/v1/clinicians",
        lambda w: {"json": clinician_body(w, email="X1@Tandem.TEST")},
        409,
        set(),
    ),
    "duplicate clinician phone": (
        World.admin,
        "post",
        "/api/v1/clinicians",
        lambda w: {"json": clinician_body(w, phone="+12025550101")},
        409,
        set(),
    ),
    "phone of a patient": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"json": patient_body(phone=World.pa_phone)},
        409,
        set(),
    ),
    "oversized body": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"json": patient_body(name="x" * (65 * 1024))},
        413,
        set(),
    ),
    "oversized login": (
        ANON,
        "post",
        "/api/v1/auth/login",
        lambda w: {"json": {"username": "a@b.example", "password": "p" * 70_000}},
        413,
        set(),
    ),
    "text/plain": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"data": json.dumps(patient_body()), "content_type": "text/plain"},
        415,
        set(),
    ),
    "form post": (
        ANON,
        "post",
        "/api/v1/auth/login",
        lambda w: {"data": {"username": World.cx1, "password": World.PASSWORD}},
        415,
        set(),
    ),
    "no content type": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"data": json.dumps(patient_body())},
        415,
        set(),
    ),
    "unknown field": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"json": patient_body(favourite_colour="blue")},
        422,
        {"favourite_colour"},
    ),
    "unknown nested field": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"json": patient_body(screening=screening(extra=True))},
        422,
        {"screening.extra"},
    ),
    "mistyped fields": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {
            "json": patient_body(
                bipolar="no", weight_kg="70", care_team=["1"], maintenance_interval_days=3.5
            )
        },
        422,
        {"bipolar", "weight_kg", "care_team.0", "maintenance_interval_days"},
    ),
    "mistyped screening": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {
            "json": patient_body(
                screening=screening(
                    failed_antidepressant_trials=True,
                    medical_clearance=1,
                    prior_inadequate_response=["surgery"],
                    baseline={"instrument": "HAM-D", "score": 3},
                )
            )
        },
        422,
        {
            "screening.failed_antidepressant_trials",
            "screening.medical_clearance",
            "screening.prior_inadequate_response.0",
            "screening.baseline.instrument",
        },
    ),
    "missing fields": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"json": {}},
        422,
        {"name", "phone", "timezone", "bipolar", "weight_kg", "screening"},
    ),
    "body not an object": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"json": [patient_body()]},
        422,
        {"body"},
    ),
    "bad phone: no plus": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"json": patient_body(phone="12025550150")},
        422,
        {"phone"},
    ),
    "bad phone: too short": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"json": patient_body(phone="+1202")},
        422,
        {"phone"},
    ),
    "bad phone: letters": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"json": patient_body(phone="+1202CALLNOW")},
        422,
        {"phone"},
    ),
    "bad phone: number": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"json": patient_body(phone=12025550150)},
        422,
        {"phone"},
    ),
    "bad clinician phone": (
        World.admin,
        "post",
        "/api/v1/clinicians",
        lambda w: {"json": clinician_body(w, phone="555-0120")},
        422,
        {"phone"},
    ),
    "unknown time zone": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"json": patient_body(timezone="Mars/Olympus_Mons")},
        422,
        {"timezone"},
    ),
    "local time zone name": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"json": patient_body(timezone="localtime")},
        422,
        {"timezone"},
    ),
    "clinic time zone": (
        World.admin,
        "post",
        "/api/v1/clinics",
        lambda w: {"json": {"name": "Z", "timezone": "Eastern"}},
        422,
        {"timezone"},
    ),
    "negative weight": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"json": patient_body(weight_kg=-70)},
        422,
        {"weight_kg"},
    ),
    "negative weight patch": (
        World.cx1,
        "patch",
        "/api/v1/patients/{patient_a}",
        lambda w: {"json": {"weight_kg": -1}},
        422,
        {"weight_kg"},
    ),
    "interval out of range": (
        World.cx1,
        "patch",
        "/api/v1/patients/{patient_a}",
        lambda w: {"json": {"maintenance_interval_days": 1, "phase": "holiday"}},
        422,
        {"maintenance_interval_days", "phase"},
    ),
    "huge care team id": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"json": patient_body(care_team=[HUGE])},
        422,
        {"care_team.0"},
    ),
    "huge clinic id": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"json": patient_body(clinic_id=HUGE)},
        422,
        {"clinic_id"},
    ),
    "huge clinic id for a clinician": (
        World.admin,
        "post",
        "/api/v1/clinicians",
        lambda w: {"json": clinician_body(w, clinic_id=HUGE)},
        422,
        {"clinic_id"},
    ),
    "huge clinic id query": (
        World.admin,
        "get",
        f"/api/v1/clinicians?clinic_id={HUGE}",
        lambda w: {},
        422,
        {"clinic_id"},
    ),
    "foreign care team": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"json": patient_body(care_team=[w.clinician_x2, w.clinician_y1])},
        422,
        {"care_team"},
    ),
    "foreign care team patch": (
        World.cx1,
        "patch",
        "/api/v1/patients/{patient_a}",
        lambda w: {"json": {"care_team": [w.clinician_y1]}},
        422,
        {"care_team"},
    ),
    "cursor not issued": (
        World.cx1,
        "get",
        "/api/v1/patients?cursor=bm90LWEtY3Vyc29y",
        lambda w: {},
        422,
        {"cursor"},
    ),
    "cursor huge": (
        World.cx1,
        "get",
        "/api/v1/patients?cursor=" + b64url(f"v1:{HUGE}".encode()),
        lambda w: {},
        422,
        {"cursor"},
    ),
    "limit too big": (World.cx1, "get", "/api/v1/patients?limit=500", lambda w: {}, 422, {"limit"}),
    "weak clinician password": (
        World.admin,
        "post",
        "/api/v1/clinicians",
        lambda w: {"json": clinician_body(w, password="short")},
        422,
        {"password"},
    ),
    "bad tier and email": (
        World.admin,
        "post",
        "/api/v1/clinicians",
        lambda w: {"json": clinician_body(w, on_call_tier=4, email="not-an-email")},
        422,
        {"on_call_tier", "email"},
    ),
    "bad escalation policy": (
        World.admin,
        "patch",
        "/api/v1/clinics/{clinic_x}",
        lambda w: {
            "json": {
                "escalation_policy": {
                    "quiet_hours": {"start": "25:00"},
                    "repeat": -1,
                    "ack_timeout_seconds": {"urgent": 5},
                }
            }
        },
        422,
        {
            "escalation_policy.quiet_hours.start",
            "escalation_policy.repeat",
            "escalation_policy.ack_timeout_seconds.urgent",
        },
    ),
    "activation code not digits": (
        ANON,
        "post",
        "/api/v1/auth/activate",
        lambda w: {"json": {"phone": World.pa_phone, "code": "12ab56", "password": "x" * 12}},
        422,
        {"code"},
    ),
    "bad idempotency key": (
        World.cx1,
        "post",
        "/api/v1/patients",
        lambda w: {"json": patient_body(), "headers": {"Idempotency-Key": "has spaces in it"}},
        422,
        {"Idempotency-Key"},
    ),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS), ids=list(BAD_REQUESTS))
def test_bad_request_is_a_problem_document_and_stores_nothing(
    case: str, client: FlaskClient, auth: Auth, world: World, database: Database
) -> None:
    who, method, path, make_kwargs, status, fields = BAD_REQUESTS[case]
    kwargs = make_kwargs(world)
    headers = dict(kwargs.pop("headers", {}))
    if who:
        headers = {**auth.headers(who), **headers}
    before = row_counts(database)

    response = getattr(client, method)(path.format(**vars(world)), headers=headers, **kwargs)

    body = assert_problem(response, status)
    if status == 422:
        assert set(body["errors"]) >= fields, body["errors"]
        assert all(
            isinstance(msgs, list) and msgs and all(isinstance(m, str) for m in msgs)
            for msgs in body["errors"].values()
        )
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if status == 405:
        assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert row_counts(database) == before


def _tokens(auth: Auth, username: str) -> dict[str, Any]:
    return auth.login(username, World.PASSWORD)


def _token_cases(app: Flask, auth: Auth, world: World) -> dict[str, str]:
    tokens = _tokens(auth, World.cx1)
    access, refresh = tokens["access_token"], tokens["refresh_token"]
    header_b64, payload_b64, signature = access.split(".")
    claims = claims_of(access)
    with app.app_context():
        expired = create_access_token(
            identity=claims["sub"],
            additional_claims={"role": "clinician", "sid": claims["sid"]},
            expires_delta=timedelta(seconds=-30),
        )
    forged_claims = {**claims, "sub": str(world.admin_id)}
    tampered = ".".join([header_b64, b64url(json.dumps(forged_claims).encode()), signature])
    none_header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    alg_none = f"{none_header}.{b64url(json.dumps(forged_claims).encode())}."
    bad_signature = f"{header_b64}.{payload_b64}.{signature[::-1]}"
    import jwt as pyjwt

    other_key = pyjwt.encode(claims, "another-secret-key-of-32-characters!!", algorithm="HS256")
    return {
        "expired": expired,
        "tampered": tampered,
        "alg none": alg_none,
        "bad signature": bad_signature,
        "signed with another key": other_key,
        "refresh used as access": refresh,
        "garbage": "a.b.c",
    }


@pytest.mark.parametrize(
    "kind",
    [
        "expired",
        "tampered",
        "alg none",
        "bad signature",
        "signed with another key",
        "refresh used as access",
        "garbage",
    ],
)
def test_bad_tokens_are_401(
    kind: str, app: Flask, client: FlaskClient, auth: Auth, world: World
) -> None:
    token = _token_cases(app, auth, world)[kind]
    for method, path in (("get", "/api/v1/patients"), ("get", "/api/v1/clinics")):
        response = getattr(client, method)(path, headers={"Authorization": f"Bearer {token}"})
        body = assert_problem(response, 401)
        assert "token" in body["detail"].lower()


def test_access_token_refused_by_refresh(client: FlaskClient, auth: Auth, world: World) -> None:
    access = _tokens(auth, World.cx1)["access_token"]
    response = client.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {access}"})
    assert_problem(response, 401)


def test_login_rate_limit_is_429_with_retry_after(client: FlaskClient, world: World) -> None:
    for _ in range(5):
        response = client.post(
            "/api/v1/auth/login", json={"username": World.cx2, "password": "wrong password"}
        )
        assert_problem(response, 401)
    response = client.post(
        "/api/v1/auth/login", json={"username": World.cx2, "password": World.PASSWORD}
    )
    assert_problem(response, 429)
    assert 1 <= int(response.headers["Retry-After"]) <= 15 * 60


def test_unexpected_exception_is_a_bare_500_problem(
    app: Flask, client: FlaskClient, database: Database, world: World
) -> None:
    def explode() -> str:
        raise RuntimeError("secret internals: /etc/tandem password=hunter2")

    app.add_url_rule("/api/v1/test-only/explode", "explode", explode, methods=["GET", "POST"])
    before = row_counts(database)
    for method in ("get", "post"):
        response = getattr(client, method)("/api/v1/test-only/explode", json={"a": 1})
        body = assert_problem(response, 500)
        text = response.get_data(as_text=True)
        assert "secret internals" not in text and "hunter2" not in text
        assert "RuntimeError" not in text and "File " not in text
        assert set(body) <= {"type", "title", "status", "detail", "instance"}
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert row_counts(database) == before


def test_a_conflicting_commit_is_409_with_security_headers(
    app: Flask, client: FlaskClient, database: Database, world: World
) -> None:
    """A constraint that refuses the request's commit leaves as a problem, not a 500."""
    from api.extensions import db, runtime
    from store.models import User

    def duplicate() -> tuple[str, int]:
        db().add(
            User(role="clinician", name="dup", email=World.cx1, created_at=runtime().clock.now())
        )
        return "", 204

    app.add_url_rule("/api/v1/test-only/duplicate", "duplicate", duplicate, methods=["POST"])
    before = row_counts(database)
    response = client.post("/api/v1/test-only/duplicate")
    assert_problem(response, 409)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert row_counts(database) == before


def test_problem_type_and_title_follow_the_status(
    client: FlaskClient, auth: Auth, world: World
) -> None:
    seen: dict[int, dict[str, Any]] = {}
    seen[404] = assert_problem(client.get("/nope"), 404)
    seen[401] = assert_problem(client.get("/api/v1/patients"), 401)
    seen[405] = assert_problem(client.put("/healthz"), 405)
    for status, body in seen.items():
        # The type is a page of this very service (issue 16: problem types that resolve).
        assert body["type"].startswith("http://localhost/problems/")
        assert body["status"] == status
    assert len({b["type"] for b in seen.values()}) == len(seen)


def test_a_constraint_hit_inside_a_view_is_409(
    app: Flask, client: FlaskClient, database: Database, world: World
) -> None:
    """A unique key taken between a service's check and its flush (a race) is a conflict."""
    from api.extensions import db, runtime
    from store.models import User

    def racing() -> tuple[str, int]:
        session = db()
        session.add(
            User(
                role="clinician", name="dup", phone="+12025550101", created_at=runtime().clock.now()
            )
        )
        session.flush()
        return "", 204

    app.add_url_rule("/api/v1/test-only/racing", "racing", racing, methods=["POST"])
    before = row_counts(database)
    assert_problem(client.post("/api/v1/test-only/racing"), 409)
    assert row_counts(database) == before


@pytest.mark.parametrize(
    "body",
    [
        '{"weight_kg": ' + "9" * 5000 + "}",
        "[" * 5000 + "]" * 5000,
        b'{"name": "\xff\xfe"}',
        "NaN",
        "{'single': 'quotes'}",
    ],
    ids=["5000-digit number", "deep nesting", "invalid utf-8", "bare NaN", "not json"],
)
def test_unreadable_json_is_400(
    body: str | bytes, client: FlaskClient, auth: Auth, world: World, database: Database
) -> None:
    headers = auth.headers(World.cx1)
    before = row_counts(database)
    for extra in ({}, {"Idempotency-Key": "unreadable"}):
        response = client.post(
            "/api/v1/patients",
            headers={**headers, **extra},
            data=body,
            content_type="application/json",
        )
        assert response.status_code in (400, 422), response.get_data(as_text=True)
        assert_problem(response, response.status_code)
    assert row_counts(database) == before


def test_text_with_nul_characters_is_refused(
    client: FlaskClient, auth: Auth, world: World, database: Database
) -> None:
    """PostgreSQL cannot store NUL in text: it is bad input, never a 500."""
    headers = auth.headers(World.cx1)
    before = row_counts(database)
    response = client.post(
        "/api/v1/patients", headers=headers, json=patient_body(name="Pat\u0000Evil")
    )
    assert_problem(response, 422)
    response = client.post(
        "/api/v1/auth/login", json={"username": "x1@tandem.test\u0000", "password": "p"}
    )
    assert response.status_code in (401, 422)
    assert_problem(response, response.status_code)
    assert row_counts(database) == before
