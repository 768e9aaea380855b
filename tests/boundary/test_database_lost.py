"""A database that is gone, or a connection killed mid-request, is the documented 503.

Issue 15 item 6: these answered 500, so an app did not retry. The 503 carries Retry-After,
and on a self-report the crisis resources the answers call for.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from services.runtime import Runtime
from tests.support.boundary import kill_on, patient_token
from tests.support.selfreport import PHQ9_URL, answers_for
from tests.support.suite import PG_URL, Auth
from tests.support.world import World

SUICIDAL_BODY = {"answers": answers_for(12, item9=2)}


def _assert_503(response: Any) -> dict[str, Any]:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0
    body: dict[str, Any] = response.get_json()
    return body


def test_login_with_the_database_gone_is_503(dead_app: Flask) -> None:
    response = dead_app.test_client().post(
        "/api/v1/auth/login", json={"username": World.cx1, "password": World.PASSWORD}
    )
    _assert_503(response)


def test_a_read_with_the_database_gone_is_503(dead_app: Flask) -> None:
    bearer = {"Authorization": f"Bearer {patient_token(dead_app)}"}
    _assert_503(dead_app.test_client().get("/api/v1/me", headers=bearer))


def test_a_self_report_with_the_database_gone_is_503_with_crisis_resources(
    dead_app: Flask,
) -> None:
    bearer = {"Authorization": f"Bearer {patient_token(dead_app)}"}
    body = _assert_503(dead_app.test_client().post(PHQ9_URL, json=SUICIDAL_BODY, headers=bearer))
    assert "988" in str(body["crisis_resources"])


def test_a_missing_table_stays_a_500() -> None:
    """Our own bug (a query on a table that is not there) is not an outage to retry."""
    from sqlalchemy.exc import OperationalError

    from api.errors import database_unavailable

    engine = create_engine("sqlite://")
    with pytest.raises(OperationalError) as caught, engine.connect() as conn:
        conn.execute(text("SELECT * FROM nowhere"))
    assert not database_unavailable(caught.value)


@pytest.mark.skipif(not PG_URL, reason="pg_terminate_backend needs PostgreSQL")
@pytest.mark.parametrize(
    ("method", "url", "marker"),
    [
        ("get", "/api/v1/me/checkins", "FROM phq9_checkins"),
        ("post", PHQ9_URL, "INSERT INTO phq9_checkins"),
    ],
)
def test_a_connection_killed_mid_request_is_503(
    client: FlaskClient,
    auth: Auth,
    world: World,
    rt: Runtime,
    killer: Engine,
    method: str,
    url: str,
    marker: str,
) -> None:
    headers = auth.headers(World.pa_phone)
    kill_on(rt.database, killer, marker)
    if method == "get":
        response = client.get(url, headers=headers)
    else:
        response = client.post(url, json=SUICIDAL_BODY, headers=headers)
    body = _assert_503(response)
    if method == "post":
        assert "988" in str(body["crisis_resources"])
    # The pool hands out a fresh connection: the next request works.
    assert client.get("/api/v1/me", headers=headers).status_code == 200
