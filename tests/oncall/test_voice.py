"""Voice pages: an urgent page unacknowledged for 5 minutes rings the clinician through the
real twilio SDK (Calls API, a local stand-in); the TwiML speaks no PHI; 1 acknowledges, any
other key says so and acknowledges nothing; busy/no-answer moves the chain on at once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from notifications import texts
from services.runtime import Runtime
from store.clock import FrozenClock
from store.escalations import Escalation, EscalationEvent
from store.models import AuditEvent, SmsAttempt
from tests.escalations.support import (
    FROM_NUMBER,
    ITEM9_ONE,
    PUBLIC_BASE_URL,
    SEEN_BODIES,
    SUICIDAL,
    TwilioStandIn,
    signed_form,
)
from tests.oncall.support import CallsStandIn, outbox
from tests.support.suite import Auth
from tests.support.world import World

VOICE, VOICE_STATUS = "/webhooks/twilio/voice", "/webhooks/twilio/voice/status"
X1, X2 = "+12025550101", "+12025550102"
RULES = [{"channel": "sms", "after_minutes": 0}, {"channel": "voice", "after_minutes": 5}]


@pytest.fixture
def calls(httpserver: HTTPServer, standin: TwilioStandIn) -> CallsStandIn:
    stand_in = CallsStandIn(httpserver)
    stand_in.install()
    return stand_in


def ring_x1_after_five_minutes(client: FlaskClient, auth: Auth, world: World) -> None:
    response = client.patch(
        f"/api/v1/clinicians/{world.clinician_x1}",
        json={"notify": RULES},
        headers=auth.headers(World.cx1),
    )
    assert response.status_code == 200, response.get_json()


def submit(client: FlaskClient, auth: Auth, answers: list[int | None]) -> int:
    response = client.post(
        "/api/v1/checkins/phq9", json={"answers": answers}, headers=auth.headers(World.pa_phone)
    )
    assert response.status_code == 201, response.get_json()
    escalation_id: int = response.get_json()["escalation"]["id"]
    return escalation_id


def answer(client: FlaskClient, sid: str, digits: str | None = None) -> tuple[int, str]:
    """Twilio fetching the call's TwiML (after a key press when ``digits``); returns the words."""
    params = {"CallSid": sid, "AccountSid": "AC" + "cd" * 16, "From": FROM_NUMBER, "To": X1}
    if digits is not None:
        params["Digits"] = digits
    response = client.post(VOICE, data=params, headers=signed_form(VOICE, params))
    text = response.get_data(as_text=True)
    if response.status_code == 200:
        assert response.mimetype == "application/xml"
        SEEN_BODIES.extend(re.findall(r"<Say>(.*?)</Say>", text, re.S))
    return response.status_code, text


def call_status(client: FlaskClient, sid: str, status: str) -> int:
    params = {"CallSid": sid, "CallStatus": status, "AccountSid": "AC" + "cd" * 16}
    return client.post(
        VOICE_STATUS, data=params, headers=signed_form(VOICE_STATUS, params)
    ).status_code


def escalation(rt: Runtime, escalation_id: int) -> Escalation:
    with rt.database.unit_of_work() as s:
        found = s.get(Escalation, escalation_id)
        assert found is not None
        return found


def events(rt: Runtime, escalation_id: int) -> list[EscalationEvent]:
    with rt.database.unit_of_work() as s:
        return list(
            s.scalars(
                select(EscalationEvent)
                .where(EscalationEvent.escalation_id == escalation_id)
                .order_by(EscalationEvent.id)
            )
        )


def test_unacknowledged_five_minutes_rings_and_pressing_one_acknowledges(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    clock: FrozenClock,
    standin: TwilioStandIn,
    calls: CallsStandIn,
) -> None:
    rt, client, auth = twilio_rt, twilio_client, Auth(twilio_client)
    ring_x1_after_five_minutes(client, auth, world)
    esc_id = submit(client, auth, SUICIDAL)
    rt.dispatcher.drain()
    assert X1 in standin.to_numbers()  # the SMS goes at once
    assert calls.placed == []

    clock.advance(timedelta(minutes=4, seconds=59))
    rt.dispatcher.drain()
    assert calls.placed == []
    clock.advance(timedelta(seconds=1))
    rt.dispatcher.drain()
    assert [
        (c["To"], c["From"], c["Url"], c["Method"], c["StatusCallback"]) for c in calls.placed
    ] == [(X1, FROM_NUMBER, PUBLIC_BASE_URL + VOICE, "POST", PUBLIC_BASE_URL + VOICE_STATUS)]
    sid = calls.placed[0]["Sid"]
    [row] = outbox(rt, channel="voice")
    assert (row.status, row.twilio_sid, row.recipient_id, row.escalation_id) == (
        "sent",
        sid,
        world.clinician_x1,
        esc_id,
    )

    # Answered: the call says only that an urgent escalation needs attention, press 1.
    status, twiml = answer(client, sid)
    assert status == 200
    assert f'<Gather action="{PUBLIC_BASE_URL}{VOICE}" method="POST" numDigits="1"' in twiml
    assert "An urgent escalation needs your attention. Press 1 to acknowledge" in twiml
    # Exactly the two texts of the texts module: no id, no name, no reason.
    assert re.findall(r"<Say>(.*?)</Say>", twiml) == [texts.voice_prompt(), texts.voice_no_key()]

    # Another key: the call says so, and nothing is acknowledged.
    status, twiml = answer(client, sid, "7")
    assert status == 200 and "That key does not acknowledge anything" in twiml
    assert "<Gather" in twiml  # asked again
    assert escalation(rt, esc_id).status == "open"

    # 1: acknowledged by this clinician, by voice; paging stops.
    status, twiml = answer(client, sid, "1")
    assert status == 200 and "Acknowledged. Paging has stopped." in twiml
    found = escalation(rt, esc_id)
    assert (found.status, found.acknowledged_by, found.next_page_at) == (
        "acknowledged",
        world.clinician_x1,
        None,
    )
    acked = [e for e in events(rt, esc_id) if e.event == "acknowledged"]
    assert [e.detail["via"] for e in acked] == ["voice"]
    assert [e.detail["key"] for e in events(rt, esc_id) if e.event == "call_key_pressed"] == [
        "other",
        "1",
    ]
    with rt.database.unit_of_work() as s:
        actions = [a.action for a in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("escalation.voice_key") == 2 and "escalation.acknowledge" in actions

    # The call's status callback is recorded on the row.
    assert call_status(client, sid, "completed") == 200
    with rt.database.unit_of_work() as s:
        outcomes = [
            a.outcome for a in s.scalars(select(SmsAttempt).where(SmsAttempt.message_id == row.id))
        ]
    assert outcomes == ["sent", "completed"]
    clock.advance(timedelta(hours=1))
    rt.dispatcher.drain()
    assert len(calls.placed) == 1


def test_acknowledged_before_the_delay_no_call_is_placed(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    clock: FrozenClock,
    calls: CallsStandIn,
) -> None:
    rt, client, auth = twilio_rt, twilio_client, Auth(twilio_client)
    ring_x1_after_five_minutes(client, auth, world)
    esc_id = submit(client, auth, SUICIDAL)
    rt.dispatcher.drain()
    clock.advance(timedelta(minutes=2))
    ack = client.post(f"/api/v1/escalations/{esc_id}/acknowledge", headers=auth.headers(World.cx1))
    assert ack.status_code == 200
    clock.advance(timedelta(minutes=10))
    rt.dispatcher.drain()
    assert calls.placed == []
    assert [r.status for r in outbox(rt, channel="voice")] == ["canceled"]


def test_no_answer_moves_the_chain_on_at_once(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    clock: FrozenClock,
    standin: TwilioStandIn,
    calls: CallsStandIn,
) -> None:
    rt, client, auth = twilio_rt, twilio_client, Auth(twilio_client)
    ring_x1_after_five_minutes(client, auth, world)
    esc_id = submit(client, auth, SUICIDAL)
    clock.advance(timedelta(minutes=5))
    rt.dispatcher.drain()
    assert X2 not in standin.to_numbers()
    assert call_status(client, calls.placed[0]["Sid"], "no-answer") == 200
    rt.dispatcher.drain()
    assert standin.to_numbers()[-1] == X2  # tier 2, five minutes before the time-out would
    assert escalation(rt, esc_id).tier == 2
    advanced = [e for e in events(rt, esc_id) if e.event == "tier_advanced"]
    assert [e.detail["reason"] for e in advanced] == ["call_not_answered"]
    # A late or repeated callback does not move it again.
    assert call_status(client, calls.placed[0]["Sid"], "busy") == 200
    assert escalation(rt, esc_id).tier == 2


@pytest.mark.parametrize("status", ["busy", "failed"])
def test_busy_or_failed_counts_as_not_delivered(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    clock: FrozenClock,
    calls: CallsStandIn,
    status: str,
) -> None:
    rt, client, auth = twilio_rt, twilio_client, Auth(twilio_client)
    ring_x1_after_five_minutes(client, auth, world)
    esc_id = submit(client, auth, SUICIDAL)
    clock.advance(timedelta(minutes=5))
    rt.dispatcher.drain()
    call_status(client, calls.placed[0]["Sid"], status)
    assert escalation(rt, esc_id).tier == 2


def test_high_priority_pages_do_not_ring(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    clock: FrozenClock,
    calls: CallsStandIn,
) -> None:
    rt, client, auth = twilio_rt, twilio_client, Auth(twilio_client)
    ring_x1_after_five_minutes(client, auth, world)
    submit(client, auth, ITEM9_ONE)
    clock.advance(timedelta(minutes=20))
    rt.dispatcher.drain()
    assert calls.placed == [] and outbox(rt, channel="voice") == []


def test_clinicians_without_voice_rules_get_sms_only(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    clock: FrozenClock,
    calls: CallsStandIn,
) -> None:
    auth = Auth(twilio_client)
    submit(twilio_client, auth, SUICIDAL)
    clock.advance(timedelta(minutes=9))
    twilio_rt.dispatcher.drain()
    assert calls.placed == []


@pytest.mark.parametrize("path", [VOICE, VOICE_STATUS])
def test_unsigned_or_forged_voice_webhooks_are_403(
    twilio_client: FlaskClient, twilio_rt: Runtime, world: World, path: str
) -> None:
    params = {"CallSid": "CA" + "1" * 32, "Digits": "1", "CallStatus": "no-answer"}
    unsigned = twilio_client.post(path, data=params)
    forged = twilio_client.post(path, data=params, headers=signed_form(path, params, token="wrong"))
    tampered_headers = signed_form(path, params)
    tampered = twilio_client.post(path, data={**params, "Digits": "2"}, headers=tampered_headers)
    for response in (unsigned, forged, tampered):
        assert response.status_code == 403
        assert response.mimetype == "application/problem+json"


def test_an_unknown_call_acknowledges_nothing(
    twilio_client: FlaskClient, twilio_rt: Runtime, world: World
) -> None:
    auth = Auth(twilio_client)
    esc_id = submit(twilio_client, auth, SUICIDAL)
    status, twiml = answer(twilio_client, "CA" + "9" * 32, "1")
    assert status == 200 and "could not acknowledge" in twiml
    assert escalation(twilio_rt, esc_id).status == "open"
    assert call_status(twilio_client, "CA" + "9" * 32, "no-answer") == 200
    assert escalation(twilio_rt, esc_id).tier == 1


def test_a_call_twilio_refuses_for_good_moves_the_chain_on(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    clock: FrozenClock,
    standin: TwilioStandIn,
    calls: CallsStandIn,
) -> None:
    rt, client, auth = twilio_rt, twilio_client, Auth(twilio_client)
    ring_x1_after_five_minutes(client, auth, world)
    esc_id = submit(client, auth, SUICIDAL)
    calls.refuse_next = 1
    clock.advance(timedelta(minutes=5))
    rt.dispatcher.drain()
    [row] = outbox(rt, channel="voice")
    assert (row.status, row.error_code) == ("failed", 21211)
    assert escalation(rt, esc_id).tier == 2
    rt.dispatcher.drain()
    assert standin.to_numbers()[-1] == X2


def test_a_clinician_who_never_chose_is_rung_after_five_minutes_of_urgent(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    clock: FrozenClock,
    calls: CallsStandIn,
) -> None:
    """The product default (notify unset): SMS at once, then a call after 5 minutes."""
    rt, client, auth = twilio_rt, twilio_client, Auth(twilio_client)
    reset = client.patch(
        f"/api/v1/clinicians/{world.clinician_x1}",
        json={"notify": None},
        headers=auth.headers(World.admin),
    )
    assert reset.status_code == 200
    submit(client, auth, SUICIDAL)
    rt.dispatcher.drain()
    clock.advance(timedelta(minutes=4, seconds=59))
    rt.dispatcher.drain()
    assert calls.placed == []
    clock.advance(timedelta(seconds=1))
    rt.dispatcher.drain()
    assert [c["To"] for c in calls.placed] == [X1]
