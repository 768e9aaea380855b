"""The served OpenAPI document, the docs page, and the security headers."""

from __future__ import annotations

import json
import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from api.app import create_app
from config import Settings
from notifications.log_sms import LogSmsSender
from services.runtime import Runtime
from store import Database
from store.clock import FrozenClock
from tests.support.suite import Auth
from tests.support.world import World

RULE_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def api_rules(app: Flask) -> dict[str, set[str]]:
    """Every /api/v1 route as an OpenAPI path, with its methods."""
    rules: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = RULE_ARGUMENT.sub(r"{\1}", rule.rule)
            methods = {m.lower() for m in rule.methods or ()} - {"head", "options"}
            rules.setdefault(path, set()).update(methods)
    return rules


def test_openapi_describes_every_api_path_and_method(app: Flask, client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = json.loads(response.get_data(as_text=True))
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Tandem" and document["info"]["version"] == "v1"
    paths = document["paths"]
    rules = api_rules(app)
    assert rules, "no /api/v1 routes?"
    for path, methods in rules.items():
        assert path in paths, f"{path} is not in /openapi.json"
        assert methods <= set(paths[path]), (path, methods, set(paths[path]))
    for path in (
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/auth/activate",
        "/api/v1/clinics",
        "/api/v1/clinics/{clinic_id}",
        "/api/v1/clinicians",
        "/api/v1/patients",
        "/api/v1/patients/{patient_id}",
        "/api/v1/patients/{patient_id}/activation",
        "/healthz",
        "/readyz",
    ):
        assert path in paths, path


def test_openapi_documents_auth_ids_and_idempotency(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    patients = document["paths"]["/api/v1/patients"]
    assert patients["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in document["paths"]["/api/v1/auth/login"]["post"]
    header_names = {
        p["name"] for p in patients["post"].get("parameters", []) if p.get("in") == "header"
    }
    assert "Idempotency-Key" in header_names
    (patient_id,) = [
        p
        for p in document["paths"]["/api/v1/patients/{patient_id}"]["parameters"]
        if p["name"] == "patient_id"
    ]
    assert patient_id["schema"]["type"] == "integer"
    assert patient_id["schema"]["maximum"] == 2**31 - 1
    body = patients["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body


def test_docs_serve_html(client: FlaskClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "swagger" in page.lower() and "/openapi.json" in page


def test_security_headers_on_every_kind_of_response(
    client: FlaskClient, auth: Auth, world: World
) -> None:
    responses = {
        "health": client.get("/healthz"),
        "openapi": client.get("/openapi.json"),
        "api read": client.get("/api/v1/patients", headers=auth.headers(World.cx1)),
        "api error": client.get("/api/v1/patients"),
        "not found": client.get("/no/such/page"),
        "login": client.post(
            "/api/v1/auth/login", json={"username": World.cx1, "password": World.PASSWORD}
        ),
    }
    for name, response in responses.items():
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", name
        assert headers["X-Frame-Options"] == "DENY", name
        assert headers["Referrer-Policy"] == "no-referrer", name
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], name
        assert "Server-Timing" not in headers
    for name in ("api read", "api error", "login"):
        assert responses[name].headers["Cache-Control"] == "no-store", name
    docs = client.get("/docs")
    assert docs.headers["X-Content-Type-Options"] == "nosniff"


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {
        "status": "ready",
        "checks": {"database": "ok", "scheduler": "ok", "outbox": "ok", "paging": "ok"},
    }


def test_readiness_fails_when_the_database_does_not_answer(
    settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    # A SQLite file in a folder that does not exist cannot be opened.
    unreachable = Database(f"sqlite:///{tmp_path / 'missing' / 'nowhere.sqlite3'}")
    rt = Runtime.from_settings(settings, database=unreachable, sms=LogSmsSender(), clock=clock)
    client = create_app(rt=rt).test_client()
    try:
        assert client.get("/healthz").status_code == 200
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.mimetype == "application/problem+json"
        assert response.headers["Retry-After"] == "5"
    finally:
        unreachable.dispose()
