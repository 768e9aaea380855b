"""The real flow: a patient submits, the on-call phone (a Twilio stand-in) is paged, nobody
answers, tier 2 is paged, an ACK by SMS stops the chain, and a clinician resolves it."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select

from notifications.outbox import DispatcherWorker
from schedules.escalations import advance_unacknowledged
from services.runtime import Runtime
from store.clock import FrozenClock
from store.escalations import Escalation, EscalationEvent
from tests.escalations.support import (
    FROM_NUMBER,
    PUBLIC_BASE_URL,
    SEEN_BODIES,
    SUICIDAL,
    TwilioStandIn,
    signed_form,
)
from tests.support.suite import Auth
from tests.support.world import World

X1, X2 = "+12025550101", "+12025550102"


def page_text(escalation_id: int) -> str:
    return (
        f"Tandem: a patient needs attention (urgent priority). Escalation {escalation_id}. "
        f"Reply ACK {escalation_id} to acknowledge, or open the Tandem inbox."
    )


def test_patient_submits_tier_one_silent_tier_two_acks_by_sms_then_resolved(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    clock: FrozenClock,
    standin: TwilioStandIn,
) -> None:
    rt, client = twilio_rt, twilio_client
    rt.dispatcher.drain()  # the world's activation codes
    standin.received.clear()
    auth = Auth(client)

    # 1. The patient submits a PHQ-9 with item 9 = 2.
    response = client.post(
        "/api/v1/checkins/phq9", json={"answers": SUICIDAL}, headers=auth.headers(World.pa_phone)
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    escalation = body["escalation"]
    assert (escalation["kind"], escalation["priority"]) == ("suicidality", "urgent")
    assert body["crisis_resources"]  # in the response itself, whatever paging does
    esc_id = escalation["id"]

    # 2. The outbox sends the page through the real Twilio SDK to the stand-in.
    rt.dispatcher.drain()
    assert [(r["To"], r["From"], r["Body"], r["StatusCallback"]) for r in standin.received] == [
        (X1, FROM_NUMBER, page_text(esc_id), f"{PUBLIC_BASE_URL}/webhooks/twilio/status")
    ]

    # 3. Nobody acknowledges; ten minutes later tier 2 is paged.
    clock.advance(timedelta(seconds=599))
    assert advance_unacknowledged(rt) == 0
    clock.advance(timedelta(seconds=1))
    assert advance_unacknowledged(rt) == 1
    rt.dispatcher.drain()
    assert standin.to_numbers() == [X1, X2]
    assert standin.received[-1]["Body"] == page_text(esc_id)

    # 4. Tier 2 replies ACK <id> from their phone (a signed Twilio webhook).
    params = {
        "From": X2,
        "To": FROM_NUMBER,
        "Body": f"ACK {esc_id}",
        "MessageSid": "SM" + "12" * 16,
        "AccountSid": "AC" + "34" * 16,
    }
    ack = client.post(
        "/webhooks/twilio/sms", data=params, headers=signed_form("/webhooks/twilio/sms", params)
    )
    assert ack.status_code == 200
    assert ack.mimetype == "application/xml"
    reply = ack.get_data(as_text=True)
    assert f"escalation {esc_id} acknowledged" in reply
    SEEN_BODIES.append(reply.split("<Message>")[1].split("</Message>")[0])

    # 5. The chain has stopped: hours pass, nobody else is paged.
    for _ in range(6):
        clock.advance(timedelta(minutes=30))
        assert advance_unacknowledged(rt) == 0
    rt.dispatcher.drain()
    assert standin.to_numbers() == [X1, X2]

    # 6. The clinician resolves it with a note.
    h = auth.headers(World.cx2)
    assert (
        client.post(f"/api/v1/escalations/{esc_id}/resolve", headers=h, json={}).status_code == 422
    )
    done = client.post(
        f"/api/v1/escalations/{esc_id}/resolve",
        headers=h,
        json={"note": "Phoned; safety plan reviewed; seen tomorrow."},
    )
    assert done.status_code == 200
    detail = done.get_json()
    assert (detail["status"], detail["acknowledged_by"], detail["resolved_by"]) == (
        "resolved",
        world.clinician_x2,
        world.clinician_x2,
    )
    assert [(n["recipient_id"], n["tier"], n["status"]) for n in detail["notifications"]] == [
        (world.clinician_x1, 1, "sent"),
        (world.clinician_x2, 2, "sent"),
    ]
    assert all(n["twilio_sid"].startswith("SM") for n in detail["notifications"])
    assert [e["event"] for e in detail["timeline"]] == [
        "created",
        "paged",
        "tier_advanced",
        "paged",
        "acknowledged",
        "resolved",
    ]
    with rt.database.unit_of_work() as s:
        found = s.get(Escalation, esc_id)
        assert found is not None and found.status == "resolved"


def test_the_worker_pages_as_soon_as_the_submission_commits(
    twilio_client: FlaskClient, twilio_rt: Runtime, world: World, standin: TwilioStandIn
) -> None:
    """No drain by hand: the after-commit nudge wakes a running DispatcherWorker."""
    twilio_rt.dispatcher.drain()
    standin.received.clear()
    worker = DispatcherWorker(twilio_rt.dispatcher, sweep_seconds=60, listen=False)
    worker.start()
    try:
        started = time.monotonic()
        response = twilio_client.post(
            "/api/v1/checkins/phq9",
            json={"answers": SUICIDAL},
            headers=Auth(twilio_client).headers(World.pb_phone),
        )
        assert response.status_code == 201
        with standin.arrived:
            standin.arrived.wait_for(lambda: len(standin.received) >= 1, timeout=5)
        elapsed = time.monotonic() - started
    finally:
        worker.stop()
    assert standin.to_numbers() == [X1]
    assert elapsed < 2.0  # the sweep is 60 s away: only the nudge explains this
    with twilio_rt.database.unit_of_work() as s:
        assert s.scalars(select(EscalationEvent.event)).all() == ["created", "paged"]
    assert threading.active_count() >= 1
