"""Hand-off to the clinic's pager: PagerDuty Events API v2 events through the outbox, against
a local stand-in. trigger / acknowledge / resolve share the escalation id as dedup_key; no
PHI; 429 and 5xx are retried and never lost; 400 is recorded as permanent; an
acknowledgement in Tandem never resolves the pager's incident."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from services.runtime import Runtime
from store.clock import FrozenClock
from store.models import SmsAttempt
from tests.escalations.support import ITEM9_SKIPPED, SUICIDAL, sms_text_problems
from tests.oncall.support import outbox
from tests.support.suite import Auth
from tests.support.world import World

ROUTING_KEY = "R0123456789abcdef0123456789abcde"
EVENTS_PATH = "/v2/enqueue"


@dataclass
class EventsStandIn:
    """PagerDuty's Events API v2: records each accepted event, answers faults first."""

    server: HTTPServer
    received: list[dict[str, Any]] = field(default_factory=list)
    faults: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    refused: list[dict[str, Any]] = field(default_factory=list)

    def install(self) -> None:
        self.server.expect_request(EVENTS_PATH, method="POST").respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        event = json.loads(request.get_data(as_text=True))
        assert request.headers["Content-Type"] == "application/json"
        if self.faults:
            status, headers = self.faults.popleft()
            self.refused.append(event)
            return Response(
                json.dumps({"status": "error", "message": "stand-in fault"}),
                status=status,
                headers=headers,
                content_type="application/json",
            )
        self.received.append(event)
        return Response(
            json.dumps(
                {"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]}
            ),
            status=202,
            content_type="application/json",
        )

    def actions(self) -> list[tuple[str, str]]:
        return [(e["event_action"], e["dedup_key"]) for e in self.received]


@pytest.fixture
def pager(httpserver: HTTPServer) -> EventsStandIn:
    stand_in = EventsStandIn(httpserver)
    stand_in.install()
    return stand_in


@pytest.fixture
def handed_off(client: FlaskClient, auth: Auth, world: World, pager: EventsStandIn) -> str:
    """Clinic X hands its escalations to the stand-in pager."""
    response = client.patch(
        f"/api/v1/clinics/{world.clinic_x}",
        json={
            "escalation_policy": {
                "events_url": pager.server.url_for(EVENTS_PATH),
                "events_routing_key": ROUTING_KEY,
            }
        },
        headers=auth.headers(World.admin),
    )
    assert response.status_code == 200, response.get_json()
    policy = response.get_json()["escalation_policy"]
    assert policy["events_url"] == pager.server.url_for(EVENTS_PATH)
    assert policy["events_routing_key"] == "****" + ROUTING_KEY[-4:]  # never echoed whole
    return ROUTING_KEY


def submit(client: FlaskClient, auth: Auth, answers: list[int | None]) -> int:
    response = client.post(
        "/api/v1/checkins/phq9", json={"answers": answers}, headers=auth.headers(World.pa_phone)
    )
    assert response.status_code == 201, response.get_json()
    escalation_id: int = response.get_json()["escalation"]["id"]
    return escalation_id


def test_trigger_acknowledge_and_resolve_share_the_escalation_id(
    client: FlaskClient,
    auth: Auth,
    rt: Runtime,
    world: World,
    pager: EventsStandIn,
    handed_off: str,
) -> None:
    esc_id = submit(client, auth, SUICIDAL)
    rt.dispatcher.drain()
    key = str(esc_id)
    assert pager.actions() == [("trigger", key)]
    trigger = pager.received[0]
    assert trigger["routing_key"] == ROUTING_KEY
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == "tandem"
    assert trigger["payload"]["custom_details"] == {"escalation_id": esc_id, "priority": "urgent"}
    # No PHI anywhere in what the pager receives.
    flat = json.dumps(trigger).replace(ROUTING_KEY, "")
    assert not sms_text_problems(trigger["payload"]["summary"], allowed_ids=[esc_id])
    assert not [p for p in sms_text_problems(flat, allowed_ids=[esc_id]) if "number" not in p]

    h = auth.headers(World.cx1)
    assert client.post(f"/api/v1/escalations/{esc_id}/acknowledge", headers=h).status_code == 200
    rt.dispatcher.drain()
    # An acknowledgement in Tandem acknowledges the incident; it resolves nothing.
    assert pager.actions() == [("trigger", key), ("acknowledge", key)]
    assert "payload" not in pager.received[1]

    done = client.post(
        f"/api/v1/escalations/{esc_id}/resolve", json={"note": "Called; safe."}, headers=h
    )
    assert done.status_code == 200
    rt.dispatcher.drain()
    assert pager.actions() == [("trigger", key), ("acknowledge", key), ("resolve", key)]
    channels = [n["channel"] for n in done.get_json()["notifications"]]
    assert channels.count("pager") == 3 and "sms" in channels


def test_429_and_5xx_are_retried_and_never_lost_and_order_is_kept(
    client: FlaskClient,
    auth: Auth,
    rt: Runtime,
    world: World,
    clock: FrozenClock,
    pager: EventsStandIn,
    handed_off: str,
) -> None:
    pager.faults.extend([(429, {"Retry-After": "30"}), (500, {}), (503, {})])
    esc_id = submit(client, auth, SUICIDAL)
    rt.dispatcher.drain()
    assert pager.received == [] and len(pager.refused) == 1
    # Resolved while the trigger is still waiting to be retried: the resolve must not overtake
    # it, or the pager would drop the resolve and keep the incident open for ever.
    h = auth.headers(World.cx1)
    client.post(f"/api/v1/escalations/{esc_id}/resolve", json={"note": "Seen."}, headers=h)
    for _ in range(10):
        clock.advance(timedelta(minutes=5))
        rt.dispatcher.drain()
    key = str(esc_id)
    assert pager.actions() == [("trigger", key), ("acknowledge", key), ("resolve", key)]
    [trigger, *_] = outbox(rt, channel="pager")
    assert (trigger.status, trigger.attempts) == ("sent", 4)
    with rt.database.unit_of_work() as s:
        outcomes = [
            a.outcome
            for a in s.scalars(select(SmsAttempt).where(SmsAttempt.message_id == trigger.id))
        ]
    assert outcomes == ["retry", "retry", "retry", "sent"]


def test_400_is_recorded_as_permanent_and_pages_still_go(
    client: FlaskClient,
    auth: Auth,
    rt: Runtime,
    world: World,
    clock: FrozenClock,
    pager: EventsStandIn,
    handed_off: str,
) -> None:
    pager.faults.append((400, {}))
    esc_id = submit(client, auth, SUICIDAL)
    rt.dispatcher.drain()
    [trigger] = outbox(rt, channel="pager")
    assert (trigger.status, trigger.attempts) == ("failed", 1)
    assert trigger.last_error is not None and "HTTP 400" in trigger.last_error
    clock.advance(timedelta(hours=1))
    rt.dispatcher.drain()
    assert outbox(rt, channel="pager")[0].attempts == 1  # never retried
    assert {m.status for m in outbox(rt, channel="sms", escalation_id=esc_id)} == {"sent"}
    # Resolving later still tells the pager (an earlier failure blocks nothing).
    h = auth.headers(World.cx1)
    client.post(f"/api/v1/escalations/{esc_id}/resolve", json={"note": "Seen."}, headers=h)
    rt.dispatcher.drain()
    assert [a for a, _ in pager.actions()] == ["acknowledge", "resolve"]


def test_unreachable_pager_is_retried(
    client: FlaskClient, auth: Auth, rt: Runtime, world: World, clock: FrozenClock
) -> None:
    response = client.patch(
        f"/api/v1/clinics/{world.clinic_x}",
        json={
            "escalation_policy": {
                "events_url": "http://127.0.0.1:9/v2/enqueue",
                "events_routing_key": ROUTING_KEY,
            }
        },
        headers=auth.headers(World.admin),
    )
    assert response.status_code == 200
    submit(client, auth, SUICIDAL)
    rt.dispatcher.drain()
    [trigger] = outbox(rt, channel="pager")
    assert trigger.status == "pending" and trigger.attempts == 1


def test_routine_escalations_and_clinics_without_a_pager_send_nothing(
    client: FlaskClient,
    auth: Auth,
    rt: Runtime,
    world: World,
    pager: EventsStandIn,
    handed_off: str,
) -> None:
    esc_id = submit(client, auth, ITEM9_SKIPPED)  # routine: the inbox only
    h = auth.headers(World.cx1)
    client.post(f"/api/v1/escalations/{esc_id}/resolve", json={"note": "Asked."}, headers=h)
    rt.dispatcher.drain()
    assert pager.received == []
    # Clinic Y has no pager: its urgent escalation pages by SMS only.
    from tests.escalations.support import phq9, raise_for

    raise_for(rt, world.patient_c_y, phq9(SUICIDAL))
    rt.dispatcher.drain()
    assert pager.received == []


@pytest.mark.parametrize(
    "policy",
    [
        {"events_url": "not a url"},
        {"events_url": "ftp://pager.example.org/v2/enqueue"},
        {"events_routing_key": ""},
        {"events_routing_key": "x" * 65},
    ],
)
def test_bad_pager_settings_are_422(
    client: FlaskClient, auth: Auth, rt: Runtime, world: World, policy: dict[str, Any]
) -> None:
    response = client.patch(
        f"/api/v1/clinics/{world.clinic_x}",
        json={"escalation_policy": policy},
        headers=auth.headers(World.admin),
    )
    assert response.status_code == 422
    shown = client.get(f"/api/v1/clinics/{world.clinic_x}", headers=auth.headers(World.admin))
    assert "events_url" not in shown.get_json()["escalation_policy"]
