"""Twilio webhooks: signatures, ACK by SMS, consent keywords, delivery status callbacks."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from config import Settings
from services.runtime import Runtime
from store import Database
from store.clock import FrozenClock
from store.escalations import Escalation, EscalationEvent
from store.models import OutboxMessage, SmsAttempt, User
from tests.escalations.support import (
    AUTH_TOKEN,
    PUBLIC_BASE_URL,
    SEEN_BODIES,
    SUICIDAL,
    phq9,
    raise_for,
    signed_form,
)
from tests.support.world import World

SMS = "/webhooks/twilio/sms"
STATUS = "/webhooks/twilio/status"
X1, X2, Y1 = "+12025550101", "+12025550102", "+12025550104"
OUR_NUMBER = "+12025550199"


def inbound(client: FlaskClient, from_number: str, body: str) -> tuple[int, str]:
    """Post an inbound SMS as Twilio would (signed); returns status and the reply text."""
    params = {
        "From": from_number,
        "To": OUR_NUMBER,
        "Body": body,
        "MessageSid": "SM" + "ab" * 16,
        "AccountSid": "AC" + "cd" * 16,
    }
    response = client.post(SMS, data=params, headers=signed_form(SMS, params))
    if response.status_code == 200:
        assert response.mimetype == "application/xml"
    text = response.get_data(as_text=True)
    match = re.search(r"<Message>(.*)</Message>", text, re.S)
    reply = match.group(1) if match else ""
    SEEN_BODIES.append(reply)
    return response.status_code, reply


def status_callback(client: FlaskClient, sid: str, status: str, code: str = "") -> int:
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "cd" * 16}
    if code:
        params["ErrorCode"] = code
    return client.post(STATUS, data=params, headers=signed_form(STATUS, params)).status_code


def esc(rt: Runtime, escalation_id: int) -> Escalation:
    with rt.database.unit_of_work() as s:
        found = s.get(Escalation, escalation_id)
        assert found is not None
        return found


def user(rt: Runtime, user_id: int) -> User:
    with rt.database.unit_of_work() as s:
        found = s.get(User, user_id)
        assert found is not None
        return found


# --- Signatures --------------------------------------------------------------------------


@pytest.mark.parametrize("path", [SMS, STATUS])
def test_missing_or_forged_signature_is_403(client: FlaskClient, world: World, path: str) -> None:
    params = {"From": X1, "Body": "STOP", "MessageSid": "SM1", "MessageStatus": "failed"}
    assert client.post(path, data=params).status_code == 403
    forged = signed_form(path, params, token="not-the-token")
    response = client.post(path, data=params, headers=forged)
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    # Signed for other parameters than those sent.
    other = signed_form(path, {**params, "Body": "START"})
    assert client.post(path, data=params, headers=other).status_code == 403
    # Signed for another URL (the request's own http:// URL, not PUBLIC_BASE_URL).
    from notifications.twilio_sms import compute_twilio_signature

    wrong_url = compute_twilio_signature(
        auth_token=AUTH_TOKEN, url=f"http://localhost{path}", params=params
    )
    assert (
        client.post(path, data=params, headers={"X-Twilio-Signature": wrong_url}).status_code == 403
    )
    assert not user(rt_of(client), world.clinician_x1).sms_opted_out


def rt_of(client: FlaskClient) -> Runtime:
    from api.extensions import EXTENSION_KEY

    app: Flask = client.application
    runtime: Runtime = app.extensions[EXTENSION_KEY]
    return runtime


def test_no_auth_token_configured_is_403(
    settings: Settings, database: Database, clock: FrozenClock
) -> None:
    from api.app import create_app
    from notifications.log_sms import LogSmsSender

    bare = Runtime.from_settings(
        settings.with_overrides(public_base_url=PUBLIC_BASE_URL),
        database=database,
        sms=LogSmsSender(),
        clock=clock,
    )
    client = create_app(rt=bare).test_client()
    params = {"From": X1, "Body": "HELP"}
    assert client.post(SMS, data=params, headers=signed_form(SMS, params)).status_code == 403


def test_signature_uses_request_url_when_public_base_url_unset(
    settings: Settings, database: Database, clock: FrozenClock
) -> None:
    from api.app import create_app
    from notifications.log_sms import LogSmsSender
    from notifications.twilio_sms import compute_twilio_signature

    local = Runtime.from_settings(
        settings.with_overrides(twilio_auth_token=AUTH_TOKEN),
        database=database,
        sms=LogSmsSender(),
        clock=clock,
    )
    client = create_app(rt=local).test_client()
    params = {"From": X1, "Body": "HELP"}
    good = compute_twilio_signature(
        auth_token=AUTH_TOKEN, url=f"http://localhost{SMS}?x=1", params=params
    )
    assert (
        client.post(f"{SMS}?x=1", data=params, headers={"X-Twilio-Signature": good}).status_code
        == 200
    )
    assert client.post(SMS, data=params, headers=signed_form(SMS, params)).status_code == 403


def test_query_string_is_part_of_the_signed_url(client: FlaskClient, world: World) -> None:
    from notifications.twilio_sms import compute_twilio_signature

    params = {"From": X1, "Body": "HELP"}
    sig = compute_twilio_signature(
        auth_token=AUTH_TOKEN, url=f"{PUBLIC_BASE_URL}{SMS}?a=b", params=params
    )
    assert (
        client.post(f"{SMS}?a=b", data=params, headers={"X-Twilio-Signature": sig}).status_code
        == 200
    )
    assert client.post(SMS, data=params, headers={"X-Twilio-Signature": sig}).status_code == 403


# --- ACK ---------------------------------------------------------------------------------


def test_ack_from_a_clinicians_phone_acknowledges(
    client: FlaskClient, rt: Runtime, world: World, clock: FrozenClock
) -> None:
    ref = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0]
    status, reply = inbound(client, X2, f"  ack {ref.id} ")
    assert status == 200
    assert reply == f"Tandem: escalation {ref.id} acknowledged. Paging has stopped."
    found = esc(rt, ref.id)
    assert (found.status, found.acknowledged_by, found.next_page_at) == (
        "acknowledged",
        world.clinician_x2,
        None,
    )
    with rt.database.unit_of_work() as s:
        event = s.scalars(
            select(EscalationEvent).where(EscalationEvent.event == "acknowledged")
        ).one()
        assert event.detail == {"via": "sms"} and event.actor_id == world.clinician_x2
    # A second ACK is harmless and says the same.
    assert inbound(client, X1, f"ACK {ref.id}")[1].startswith(f"Tandem: escalation {ref.id}")
    assert esc(rt, ref.id).acknowledged_by == world.clinician_x2


@pytest.mark.parametrize(
    "case", ["unknown_id", "other_clinic", "unknown_number", "patient", "resolved"]
)
def test_ack_that_cannot_apply_changes_nothing(
    client: FlaskClient, rt: Runtime, world: World, case: str
) -> None:
    from services.escalations import resolve

    ref = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0]
    number, escalation_id = {
        "unknown_id": (X1, ref.id + 1000),
        "other_clinic": (Y1, ref.id),
        "unknown_number": ("+12025550177", ref.id),
        "patient": (World.pa_phone, ref.id),
        "resolved": (X1, ref.id),
    }[case]
    if case == "resolved":
        with rt.database.unit_of_work() as s:
            viewer = s.get(User, world.clinician_x1)
            assert viewer is not None
            resolve(s, viewer=viewer, escalation_id=ref.id, note="done", now=rt.clock.now())
    before = esc(rt, ref.id).status
    status, reply = inbound(client, number, f"ACK {escalation_id}")
    assert status == 200
    assert reply.startswith("Tandem: that escalation could not be acknowledged")
    assert esc(rt, ref.id).status == before


def test_bare_ack_explains_usage(client: FlaskClient, world: World) -> None:
    assert "ACK followed by the escalation id" in inbound(client, X1, "ACK")[1]


# --- Consent keywords --------------------------------------------------------------------


@pytest.mark.parametrize(
    "word", ["STOP", "stopall", "Unsubscribe", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]
)
def test_opt_out_words_set_the_flag_and_are_acknowledged(
    client: FlaskClient, rt: Runtime, world: World, word: str
) -> None:
    status, reply = inbound(client, World.pa_phone, word)
    assert status == 200 and "unsubscribed" in reply
    assert user(rt, world.patient_a).sms_opted_out is True


@pytest.mark.parametrize("word", ["START", "yes", "UNSTOP"])
def test_opt_in_words_clear_the_flag(
    client: FlaskClient, rt: Runtime, world: World, word: str
) -> None:
    inbound(client, World.pb_phone, "STOP")
    status, reply = inbound(client, World.pb_phone, word)
    assert status == 200 and "subscribed again" in reply
    assert user(rt, world.patient_b).sms_opted_out is False


@pytest.mark.parametrize("word", ["HELP", "info"])
def test_help_words_get_help(client: FlaskClient, world: World, word: str) -> None:
    status, reply = inbound(client, World.pa_phone, word)
    assert status == 200 and "Reply STOP to unsubscribe" in reply and "988" in reply


def test_unknown_text_gets_a_pointer_and_unknown_number_stop_is_fine(
    client: FlaskClient, world: World
) -> None:
    reply = inbound(client, World.pa_phone, "I feel odd")[1]
    # Free text to an unmonitored number may be a cry for help: point to 988 and 911.
    assert "not monitored" in reply and "988" in reply and "911" in reply
    assert "unsubscribed" in inbound(client, "+12025550188", "STOP")[1]


def test_clinician_opt_out_is_skipped_and_reported_in_the_inbox(
    client: FlaskClient, rt: Runtime, world: World, clock: FrozenClock
) -> None:
    from tests.support.suite import Auth

    inbound(client, X2, "STOP")
    assert user(rt, world.clinician_x2).sms_opted_out
    ref = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0]
    clock.advance(timedelta(minutes=10))
    from schedules.escalations import advance_unacknowledged

    advance_unacknowledged(rt)
    detail = client.get(
        f"/api/v1/escalations/{ref.id}", headers=Auth(client).headers(World.cx1)
    ).get_json()
    assert detail["unreachable_clinicians"] == [world.clinician_x2]
    assert [n["tier"] for n in detail["notifications"]] == [1, 3]


def test_patient_opt_out_does_not_stop_clinician_pages(
    client: FlaskClient, rt: Runtime, world: World
) -> None:
    inbound(client, World.pa_phone, "STOP")
    raise_for(rt, world.patient_a, phq9(SUICIDAL))
    with rt.database.unit_of_work() as s:
        assert s.scalars(
            select(OutboxMessage.to_number).where(OutboxMessage.purpose == "page")
        ).all() == [X1]


# --- Status callbacks --------------------------------------------------------------------


def test_status_callback_is_recorded(client: FlaskClient, rt: Runtime, world: World) -> None:
    raise_for(rt, world.patient_a, phq9(SUICIDAL))
    rt.dispatcher.drain()
    with rt.database.unit_of_work() as s:
        page = s.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "page")).one()
        sid = page.twilio_sid
    assert sid
    assert status_callback(client, sid, "delivered") == 200
    with rt.database.unit_of_work() as s:
        page = s.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "page")).one()
        assert page.delivery_status == "delivered"
        events = s.scalars(
            select(SmsAttempt.outcome).where(
                SmsAttempt.message_id == page.id, SmsAttempt.event == "status"
            )
        ).all()
        assert events == ["delivered"]
    assert status_callback(client, "SM" + "99" * 16, "delivered") == 200  # unknown: ignored


@pytest.mark.parametrize("outcome", ["undelivered", "failed"])
def test_undelivered_page_pages_the_next_tier_now(
    client: FlaskClient, rt: Runtime, world: World, outcome: str
) -> None:
    ref = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0]
    rt.dispatcher.drain()
    with rt.database.unit_of_work() as s:
        sid = s.scalars(
            select(OutboxMessage.twilio_sid).where(OutboxMessage.purpose == "page")
        ).one()
    assert sid
    assert status_callback(client, sid, outcome, code="30003") == 200
    found = esc(rt, ref.id)
    assert found.tier == 2
    with rt.database.unit_of_work() as s:
        pages = s.execute(
            select(OutboxMessage.to_number, OutboxMessage.error_code)
            .where(OutboxMessage.purpose == "page")
            .order_by(OutboxMessage.id)
        ).all()
        assert [tuple(p) for p in pages] == [(X1, 30003), (X2, None)]
    # The same callback again (Twilio retries) moves nothing further.
    assert status_callback(client, sid, outcome, code="30003") == 200
    assert esc(rt, ref.id).tier == 2


def test_undelivered_after_ack_does_not_page(
    client: FlaskClient, rt: Runtime, world: World
) -> None:
    ref = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0]
    rt.dispatcher.drain()
    inbound(client, X1, f"ACK {ref.id}")
    with rt.database.unit_of_work() as s:
        sid = s.scalars(
            select(OutboxMessage.twilio_sid).where(OutboxMessage.purpose == "page")
        ).one()
    assert sid
    status_callback(client, sid, "undelivered")
    assert esc(rt, ref.id).tier == 1


def test_late_intermediate_status_does_not_hide_a_final_one(
    client: FlaskClient, rt: Runtime, world: World
) -> None:
    raise_for(rt, world.patient_a, phq9(SUICIDAL))
    rt.dispatcher.drain()
    with rt.database.unit_of_work() as s:
        sid = s.scalars(
            select(OutboxMessage.twilio_sid).where(OutboxMessage.purpose == "page")
        ).one()
    assert sid
    for status in ("delivered", "sent", "undelivered"):
        assert status_callback(client, sid, status) == 200
    with rt.database.unit_of_work() as s:
        page = s.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "page")).first()
        assert page is not None and page.delivery_status == "delivered"
        outcomes = s.scalars(
            select(SmsAttempt.outcome)
            .where(SmsAttempt.message_id == page.id, SmsAttempt.event == "status")
            .order_by(SmsAttempt.id)
        ).all()
        assert outcomes == ["delivered", "sent", "undelivered"]  # every callback is kept
        assert (
            s.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "page"))
            .all()[-1]
            .escalation_tier
            == 1
        )  # nothing re-paged


@pytest.mark.parametrize("code", ["²", "1" * 40, "-3", "30006x"])
def test_odd_error_codes_in_a_signed_callback_are_not_errors(
    client: FlaskClient, world: World, code: str
) -> None:
    assert status_callback(client, "SM" + "0" * 32, "undelivered", code) == 200
