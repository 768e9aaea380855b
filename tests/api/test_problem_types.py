"""Every problem document's ``type`` URI resolves to a page of Tandem's that explains it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape

from api.app import create_app
from api.errors import STATUS_FOR
from api.problems.catalogue import BY_STATUS, CATALOGUE
from config import load_settings
from services.runtime import Runtime
from store import Database
from tests.support.suite import Auth
from tests.support.world import World


def _follow(client: FlaskClient, type_uri: str) -> str:
    parts = urlsplit(type_uri)
    response = client.get(parts.path)
    assert response.status_code == 200, type_uri
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def test_the_types_of_real_refusals_resolve_to_their_explanation(
    client: FlaskClient, auth: Auth, world: World
) -> None:
    refusals = {
        404: client.get("/api/v1/nope"),
        401: client.get("/api/v1/patients"),
        405: client.put("/healthz"),
        415: client.post("/api/v1/auth/login", data="x", content_type="text/plain"),
        400: client.post("/api/v1/auth/login", data="{", content_type="application/json"),
        422: client.post("/api/v1/auth/login", json={"username": 7}),
        403: client.get("/api/v1/patients", headers=auth.headers(World.pa_phone)),
    }
    for status, response in refusals.items():
        body = response.get_json()
        assert body["status"] == status, body
        page = _follow(client, body["type"])
        assert f"{status} {BY_STATUS[status].title}" in page
        assert str(escape(BY_STATUS[status].meaning)) in page


def test_every_status_tandem_answers_has_a_page(client: FlaskClient) -> None:
    statuses = {p.status for p in CATALOGUE}
    assert {401, 403, 404, 409, 422, 429} <= statuses
    assert set(STATUS_FOR.values()) <= statuses
    index = client.get("/problems/")
    assert index.status_code == 200
    text = index.get_data(as_text=True)
    for problem_type in CATALOGUE:
        assert f'id="{problem_type.slug}"' in text
        assert client.get(f"/problems/{problem_type.slug}").status_code == 200


def test_an_unknown_problem_type_is_a_404_problem(client: FlaskClient) -> None:
    response = client.get("/problems/no-such-thing")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("slug", ["<script>", "..%2F..%2Fetc", "x" * 500])
def test_odd_slugs_are_plain_404s(client: FlaskClient, slug: str) -> None:
    response = client.get(f"/problems/{slug}")
    assert response.status_code == 404
    # The echo of the path stays inside JSON: never an HTML page that could run it.
    assert response.mimetype == "application/problem+json"


def test_behind_a_proxy_the_type_uses_the_public_base_url(
    tmp_path: Path, database_url: str, database: Database
) -> None:
    settings = load_settings(
        {
            "TANDEM_ENV": "test",
            "DATABASE_URL": database_url,
            "TANDEM_INSTANCE_PATH": str(tmp_path / "instance"),
            "SCHEDULER_ENABLED": "false",
            "PUBLIC_BASE_URL": "https://tandem.clinic.example.org",
        },
        dotenv_path=None,
    )
    app: Flask = create_app(rt=Runtime.from_settings(settings, database=database))
    client = app.test_client()
    body = client.get("/api/v1/patients").get_json()
    assert body["type"] == "https://tandem.clinic.example.org/problems/unauthorized"
    page = client.get("/problems/unauthorized").get_data(as_text=True)
    assert "https://tandem.clinic.example.org/problems/unauthorized" in page
