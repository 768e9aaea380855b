"""Idempotency-Key on the self-report POSTs: replay, conflict, bad keys, concurrent requests."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import BaseWSGIServer, make_server

from services.runtime import Runtime
from tests.support.selfreport import PHQ9_URL, REPORT_URL, counts, report_body
from tests.support.suite import Auth
from tests.support.world import World

SUICIDAL = {"answers": [1, 1, 1, 1, 1, 1, 1, 1, 2]}


def _post(client: FlaskClient, url: str, body: Any, headers: dict[str, str], key: str) -> Any:
    return client.post(url, json=body, headers={**headers, "Idempotency-Key": key})


@pytest.mark.parametrize(
    ("url", "body"), [(PHQ9_URL, SUICIDAL), (REPORT_URL, report_body(suicidal_thoughts=2))]
)
def test_replay_returns_the_same_answer_and_stores_nothing(
    client: FlaskClient,
    patient_headers: dict[str, str],
    rt: Runtime,
    url: str,
    body: dict[str, Any],
) -> None:
    first = _post(client, url, body, patient_headers, "offline-1")
    assert first.status_code == 201
    after_first = counts(rt)
    # The same body with other spacing and key order is the same request.
    raw = json.dumps(dict(reversed(list(body.items()))), indent=2)
    again = client.post(
        url,
        data=raw,
        content_type="application/json",
        headers={**patient_headers, "Idempotency-Key": "offline-1"},
    )
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert counts(rt) == after_first


def test_same_key_other_body_is_409(
    client: FlaskClient, patient_headers: dict[str, str], rt: Runtime
) -> None:
    assert _post(client, PHQ9_URL, SUICIDAL, patient_headers, "k").status_code == 201
    before = counts(rt)
    other = _post(client, PHQ9_URL, {"answers": [0] * 9}, patient_headers, "k")
    assert other.status_code == 409
    assert other.mimetype == "application/problem+json"
    # The key belongs to the first request even on the other endpoint.
    assert _post(client, REPORT_URL, report_body(), patient_headers, "k").status_code == 409
    assert counts(rt) == before


def test_keys_are_per_user(client: FlaskClient, auth: Auth, world: World, rt: Runtime) -> None:
    a = _post(client, PHQ9_URL, SUICIDAL, auth.headers(World.pa_phone), "shared")
    b = _post(client, PHQ9_URL, SUICIDAL, auth.headers(World.pb_phone), "shared")
    assert a.status_code == b.status_code == 201
    assert a.get_json()["id"] != b.get_json()["id"]
    assert counts(rt)["checkins"] == 2


def test_refused_request_does_not_burn_the_key(
    client: FlaskClient, patient_headers: dict[str, str]
) -> None:
    bad = _post(client, PHQ9_URL, {"answers": [4] * 9}, patient_headers, "retry-me")
    assert bad.status_code == 422
    good = _post(client, PHQ9_URL, SUICIDAL, patient_headers, "retry-me")
    assert good.status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 129, "has space", "tab\there", "caf\u00e9"])
def test_invalid_keys_are_422(
    client: FlaskClient, patient_headers: dict[str, str], rt: Runtime, key: str
) -> None:
    before = counts(rt)
    response = _post(client, PHQ9_URL, SUICIDAL, patient_headers, key)
    assert response.status_code == 422
    assert "Idempotency-Key" in response.get_json()["errors"]
    after = counts(rt)
    assert (after["checkins"], after["idempotency"]) == (before["checkins"], before["idempotency"])
    # The refused check-in's item 9 still reaches a clinician (issue 15 item 2).
    assert response.get_json()["safety_signal_recorded"] is True


def test_longest_key_is_fine(client: FlaskClient, patient_headers: dict[str, str]) -> None:
    assert _post(client, PHQ9_URL, SUICIDAL, patient_headers, "k" * 128).status_code == 201


def test_staff_with_a_key_is_still_403(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime
) -> None:
    before = counts(rt)
    response = _post(client, PHQ9_URL, SUICIDAL, auth.headers(World.cx1), "staff")
    assert response.status_code == 403
    assert counts(rt) == before


@pytest.fixture
def server(app: Flask) -> Iterator[BaseWSGIServer]:
    """The app over real HTTP on loopback, one thread per request."""
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    thread.join(timeout=5)


def _race(
    srv: BaseWSGIServer, bodies: list[dict[str, Any]], headers: dict[str, str], key: str
) -> list[tuple[int, dict[str, Any]]]:
    """Send the bodies at the same moment from one thread each; (status, body) in order."""
    barrier = threading.Barrier(len(bodies))
    results: list[tuple[int, dict[str, Any]] | None] = [None] * len(bodies)

    def send(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", srv.server_port, timeout=30)
        payload = json.dumps(bodies[index])
        barrier.wait()
        conn.request(
            "POST",
            PHQ9_URL,
            body=payload,
            headers={**headers, "Content-Type": "application/json", "Idempotency-Key": key},
        )
        response = conn.getresponse()
        results[index] = (response.status, json.loads(response.read()))
        conn.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def test_concurrent_requests_with_one_key_create_one_record(
    server: BaseWSGIServer, patient_headers: dict[str, str], rt: Runtime
) -> None:
    for round_ in range(5):
        before = counts(rt)
        results = _race(server, [SUICIDAL] * 4, patient_headers, f"race-{round_}")
        assert [status for status, _ in results] == [201] * 4, results
        assert len({body["id"] for _, body in results}) == 1
        after = counts(rt)
        assert after["checkins"] == before["checkins"] + 1
        assert after["idempotency"] == before["idempotency"] + 1
        # One escalation and one set of pages, however many times the phone retried.
        assert after["escalations"] - before["escalations"] <= 1
        assert after["evidence"] == before["evidence"] + 1


def test_concurrent_requests_with_one_key_and_other_bodies(
    server: BaseWSGIServer, patient_headers: dict[str, str], rt: Runtime
) -> None:
    before = counts(rt)
    results = _race(server, [SUICIDAL, {"answers": [0] * 9}], patient_headers, "race-diff")
    assert sorted(status for status, _ in results) == [201, 409], results
    assert counts(rt)["checkins"] == before["checkins"] + 1
