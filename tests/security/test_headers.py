"""Every response carries the security headers; API responses are never cached."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from tests.fuzz.harness import operations, served_openapi
from tests.support.suite import Auth
from tests.support.world import World

REQUIRED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _check(path: str, response_headers: dict[str, str], status: int) -> list[str]:
    problems = []
    for name, value in REQUIRED.items():
        if response_headers.get(name) != value:
            problems.append(f"{path} ({status}): {name}={response_headers.get(name)!r}")
    csp = response_headers.get("Content-Security-Policy", "")
    if path != "/docs" and "default-src 'none'" not in csp:
        problems.append(f"{path} ({status}): Content-Security-Policy={csp!r}")
    if path.startswith("/api/") and "no-store" not in response_headers.get("Cache-Control", ""):
        cache = response_headers.get("Cache-Control")
        problems.append(f"{path} ({status}): Cache-Control={cache!r}")
    return problems


@pytest.mark.parametrize("caller", ["anonymous", World.cx1, World.pa_phone, World.admin])
def test_every_operation_sends_security_headers(
    client: FlaskClient, auth: Auth, world: World, caller: str
) -> None:
    headers = {} if caller == "anonymous" else auth.headers(caller)
    ids = {"patient_id": world.patient_a, "clinic_id": world.clinic_x}
    problems: list[str] = []
    seen = 0
    for method, template, _op in operations(served_openapi()):
        path = re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), 1)), template)
        response = client.open(
            path,
            method=method,
            headers=headers,
            json={} if method in {"POST", "PUT", "PATCH"} else None,
        )
        problems += _check(path, dict(response.headers), response.status_code)
        seen += 1
    assert seen > 10
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("GET", "/api/v1/nope"),
        ("DELETE", "/api/v1/patients"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("POST", "/api/v1/auth/login"),
    ],
)
def test_errors_and_documents_send_security_headers(
    client: FlaskClient, method: str, path: str
) -> None:
    response = client.open(path, method=method, data="{not json", content_type="application/json")
    assert not _check(path, dict(response.headers), response.status_code)
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"
