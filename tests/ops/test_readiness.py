"""/readyz and `tandem status` tell the truth: database, timer leader, outbox age."""

from __future__ import annotations

import json
import time
from datetime import timedelta

from flask.testing import FlaskClient, FlaskCliRunner

from api.cli import cli
from notifications.outbox import enqueue_sms
from schedules.leader import API, SCHEDULER, LeaseStore
from services.runtime import Runtime
from store import Database
from store.clock import FrozenClock


def lead(rt: Runtime, role: str) -> None:
    # As if this process had stood by for over 30 s (an API process waits that long).
    started = rt.clock.now() - timedelta(seconds=31)
    LeaseStore(rt.database, rt.clock, role=role, holder=f"{role}:test", started_at=started).tick()


def age_the_process(rt: Runtime) -> None:
    """As if this process had been up for two minutes: no grace for a missing heartbeat."""
    rt.started = time.monotonic() - 120


def test_a_scheduler_leading_is_ok(client: FlaskClient, rt: Runtime) -> None:
    lead(rt, SCHEDULER)
    age_the_process(rt)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ready",
        "checks": {"database": "ok", "scheduler": "ok", "outbox": "ok", "paging": "ok"},
    }


def test_an_api_process_leading_is_a_takeover_not_a_failure(
    client: FlaskClient, rt: Runtime, runner: FlaskCliRunner
) -> None:
    lead(rt, API)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["scheduler"] == "takeover"
    result = runner.invoke(cli, ["status"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["checks"]["scheduler"] == "takeover"


def test_no_heartbeat_for_60_s_fails_the_scheduler_check(
    client: FlaskClient, rt: Runtime, clock: FrozenClock, runner: FlaskCliRunner
) -> None:
    lead(rt, SCHEDULER)
    age_the_process(rt)
    clock.advance(timedelta(seconds=59))
    assert client.get("/readyz").status_code == 200
    clock.advance(timedelta(seconds=2))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == "5"
    body = response.get_json()
    assert body["failing"] == ["scheduler"]
    assert body["checks"]["scheduler"] == "failing"
    assert "scheduler" in body["detail"]
    result = runner.invoke(cli, ["status"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["failing"] == ["scheduler"]


def test_no_lease_at_all_fails_once_the_process_has_been_up_60_s(
    client: FlaskClient, rt: Runtime, runner: FlaskCliRunner
) -> None:
    # A new worker does not cry wolf in its first minute; `tandem status` has no grace.
    assert client.get("/readyz").status_code == 200
    assert runner.invoke(cli, ["status"]).exit_code == 1
    age_the_process(rt)
    assert client.get("/readyz").get_json()["failing"] == ["scheduler"]


def test_an_outbox_row_due_for_over_120_s_fails_the_outbox_check(
    client: FlaskClient, rt: Runtime, clock: FrozenClock, runner: FlaskCliRunner
) -> None:
    lead(rt, SCHEDULER)
    with rt.database.unit_of_work() as session:
        enqueue_sms(session, to="+12025550111", body="Tandem: hi.", purpose="page", now=clock.now())
        # Planned for tomorrow (quiet hours): not due, so not late.
        enqueue_sms(
            session,
            to="+12025550112",
            body="Tandem: later.",
            purpose="reminder",
            now=clock.now(),
            not_before=clock.now() + timedelta(days=1),
        )
    clock.advance(timedelta(seconds=100))
    lead(rt, SCHEDULER)
    assert client.get("/readyz").status_code == 200
    clock.advance(timedelta(seconds=21))
    lead(rt, SCHEDULER)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["failing"] == ["outbox"]
    assert runner.invoke(cli, ["status"]).exit_code == 1
    # Once sent, ready again.
    rt.dispatcher.drain()
    assert client.get("/readyz").status_code == 200
    assert runner.invoke(cli, ["status"]).exit_code == 0


def test_an_unreachable_database_fails_every_check(client: FlaskClient, rt: Runtime) -> None:
    broken = Database("sqlite:////nonexistent/dir/x.sqlite3")
    real = rt.database
    rt.database = broken
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["failing"] == ["database", "scheduler", "outbox", "paging"]
    finally:
        rt.database = real
        broken.dispose()
