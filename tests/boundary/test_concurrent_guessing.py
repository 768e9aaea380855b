"""Activation codes and login throttling hold under concurrent guessing, over real HTTP.

Issue 15 item 4: 40 concurrent wrong codes had 14 checked against a limit of 5 (the counter
ended at 3) and the right code was then accepted; the login throttle let 12 through against 5.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.serving import BaseWSGIServer, make_server

from services import auth as auth_service
from services.runtime import Runtime
from store.models import ActivationCode, AuthFailure, User
from tests.support.world import World

GUESSES = 40


@pytest.fixture
def server(app: Flask) -> Iterator[BaseWSGIServer]:
    """The app over real HTTP on loopback, one thread per request."""
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    thread.join(timeout=5)


def _post(srv: BaseWSGIServer, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_port, timeout=60)
    conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    result = (response.status, json.loads(response.read() or b"{}"))
    conn.close()
    return result


def _race(srv: BaseWSGIServer, path: str, bodies: list[dict[str, Any]]) -> list[int]:
    """POST every body at the same moment, one thread each; the statuses."""
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = []
    lock = threading.Lock()

    def send(body: dict[str, Any]) -> None:
        barrier.wait()
        status, _ = _post(srv, path, body)
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(statuses) == len(bodies)
    return statuses


def _fresh_code(rt: Runtime, patient_id: int) -> str:
    """Re-activation: a new code for the patient (as a clinician's resend would issue)."""
    with rt.database.unit_of_work() as session:
        user = session.get(User, patient_id)
        assert user is not None
        return auth_service.new_activation_code(session, user=user, now=rt.clock.now())


def test_forty_concurrent_wrong_codes_check_at_most_five(
    server: BaseWSGIServer, world: World, rt: Runtime
) -> None:
    code = _fresh_code(rt, world.patient_a)
    wrong = [f"{(int(code) + n) % 10**6:06d}" for n in range(1, GUESSES + 1)]
    bodies = [{"phone": World.pa_phone, "code": c, "password": "a new pass phrase"} for c in wrong]
    statuses = _race(server, "/api/v1/auth/activate", bodies)
    assert set(statuses) <= {401, 429}, statuses
    with rt.database.session() as session:
        attempts = session.scalar(
            select(ActivationCode.attempts).where(
                ActivationCode.user_id == world.patient_a, ActivationCode.used_at.is_(None)
            )
        )
    assert attempts == auth_service.ACTIVATION_MAX_ATTEMPTS
    # The code is locked: the right one is refused now.
    status, _ = _post(
        server,
        "/api/v1/auth/activate",
        {"phone": World.pa_phone, "code": code, "password": "a new pass phrase"},
    )
    assert status in (401, 429)


def test_forty_concurrent_wrong_passwords_check_at_most_five(
    server: BaseWSGIServer, world: World, rt: Runtime
) -> None:
    bodies = [{"username": World.cx1, "password": f"wrong guess {n}"} for n in range(GUESSES)]
    statuses = _race(server, "/api/v1/auth/login", bodies)
    assert statuses.count(401) <= auth_service.LOGIN_MAX_FAILURES, sorted(statuses)
    assert set(statuses) <= {401, 429}
    with rt.database.session() as session:
        recorded = session.scalar(
            select(func.count(AuthFailure.id)).where(
                AuthFailure.scope == "login", AuthFailure.key == World.cx1
            )
        )
    assert recorded == auth_service.LOGIN_MAX_FAILURES
    status, _ = _post(
        server, "/api/v1/auth/login", {"username": World.cx1, "password": World.PASSWORD}
    )
    assert status == 429
