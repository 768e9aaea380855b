"""Issue 15 item 1: every clinician of a clinic texts STOP, then one texts START.

The real flow: consent keywords arrive through the signed Twilio webhook, the patient submits
through the API, and every SMS goes through the real twilio SDK to a local stand-in.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select, update

from schedules.escalations import advance_unacknowledged
from services.runtime import Runtime
from store.clock import FrozenClock
from store.escalations import Escalation, EscalationEvent
from store.models import Clinic, User, care_team
from tests.escalations.support import SEEN_BODIES, SUICIDAL, TwilioStandIn, signed_form
from tests.support.suite import Auth
from tests.support.world import World

SMS = "/webhooks/twilio/sms"
X1, X2, X3 = "+12025550101", "+12025550102", "+12025550103"
FALLBACK = "+12025550177"


def text_in(client: FlaskClient, from_number: str, body: str) -> str:
    """A signed inbound SMS, as Twilio posts it; returns the TwiML reply's text."""
    params = {
        "From": from_number,
        "To": "+12025550199",
        "Body": body,
        "MessageSid": "SM" + "ef" * 16,
        "AccountSid": "AC" + "cd" * 16,
    }
    response = client.post(SMS, data=params, headers=signed_form(SMS, params))
    assert response.status_code == 200, response.get_data(as_text=True)
    match = re.search(r"<Message>(.*)</Message>", response.get_data(as_text=True), re.S)
    reply = match.group(1) if match else ""
    SEEN_BODIES.append(reply)
    return reply


def submit_suicidal(client: FlaskClient, phone: str) -> dict[str, Any]:
    response = client.post(
        "/api/v1/checkins/phq9", json={"answers": SUICIDAL}, headers=Auth(client).headers(phone)
    )
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    assert body["crisis_resources"]
    return body


def set_fallback(rt: Runtime, world: World, phone: str = FALLBACK) -> None:
    with rt.database.unit_of_work() as s:
        clinic = s.get(Clinic, world.clinic_x)
        assert clinic is not None
        clinic.escalation_policy = {**(clinic.escalation_policy or {}), "fallback_phone": phone}


def pages_to(standin: TwilioStandIn, number: str, escalation_id: int) -> int:
    return sum(
        1
        for r in standin.received
        if r["To"] == number and re.search(rf"[Ee]scalation {escalation_id}\b", r["Body"])
    )


def events(rt: Runtime, escalation_id: int) -> list[str]:
    with rt.database.unit_of_work() as s:
        return list(
            s.scalars(
                select(EscalationEvent.event)
                .where(EscalationEvent.escalation_id == escalation_id)
                .order_by(EscalationEvent.id)
            )
        )


def everyone_stops(client: FlaskClient) -> list[str]:
    return [text_in(client, number, "STOP") for number in (X1, X2, X3)]


def test_the_stop_reply_says_plainly_that_urgent_pages_stop(
    twilio_client: FlaskClient, world: World
) -> None:
    reply = text_in(twilio_client, X1, "STOP")
    assert "no longer receive urgent pages" in reply
    assert "START" in reply
    # A patient's STOP keeps the plain consent reply (patients get no pages).
    patient_reply = text_in(twilio_client, World.pa_phone, "STOP")
    assert "urgent pages" not in patient_reply and "unsubscribed" in patient_reply


def test_the_other_reachable_clinicians_are_told_a_colleague_left_paging(
    twilio_client: FlaskClient, twilio_rt: Runtime, world: World, standin: TwilioStandIn
) -> None:
    twilio_rt.dispatcher.drain()
    standin.received.clear()
    text_in(twilio_client, X3, "STOP")  # clinic Y's clinician is not told
    twilio_rt.dispatcher.drain()
    assert sorted(standin.to_numbers()) == [X1, X2]
    assert all("colleague" in r["Body"] for r in standin.received)
    # A second STOP from an already opted-out phone tells nobody again.
    text_in(twilio_client, X3, "STOP")
    twilio_rt.dispatcher.drain()
    assert len(standin.received) == 2


def test_nobody_reachable_pages_the_fallback_and_shows_unpageable_at_the_top(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    standin: TwilioStandIn,
    clock: FrozenClock,
) -> None:
    rt, client = twilio_rt, twilio_client
    set_fallback(rt, world)
    # X3 leaves the on-call tiers but cares for patient B, so only B stays pageable.
    with rt.database.unit_of_work() as s:
        s.execute(update(User).where(User.id == world.clinician_x3).values(on_call_tier=None))
        s.execute(
            care_team.insert().values(patient_id=world.patient_b, clinician_id=world.clinician_x3)
        )
    older = submit_suicidal(client, World.pb_phone)["escalation"]["id"]
    text_in(client, X1, "STOP")
    text_in(client, X2, "STOP")
    clock.advance(timedelta(minutes=1))
    esc_id = submit_suicidal(client, World.pa_phone)["escalation"]["id"]
    rt.dispatcher.drain()
    assert pages_to(standin, FALLBACK, esc_id) == 1
    assert not any(pages_to(standin, n, esc_id) for n in (X1, X2, X3))
    assert pages_to(standin, X3, older) == 1 and pages_to(standin, FALLBACK, older) == 0

    # The inbox: the unpageable escalation is marked and leads the list.
    auth = Auth(client)
    listed = client.get("/api/v1/escalations", headers=auth.headers(World.cx1)).get_json()
    assert [(i["id"], i["unpageable"]) for i in listed["items"]] == [
        (esc_id, True),  # newer, but nobody can be paged for it: first
        (older, False),
    ]
    detail = client.get(f"/api/v1/escalations/{esc_id}", headers=auth.headers(World.cx1))
    assert detail.get_json()["unpageable"] is True
    assert "fallback_paged" in events(rt, esc_id)

    # Readiness fails, naming the paging check.
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.mimetype == "application/problem+json"
    assert ready.get_json()["checks"]["paging"] == "unreachable"


def test_stop_of_the_last_reachable_clinician_moves_a_running_chain_to_the_fallback(
    twilio_client: FlaskClient, twilio_rt: Runtime, world: World, standin: TwilioStandIn
) -> None:
    rt, client = twilio_rt, twilio_client
    set_fallback(rt, world)
    esc_id = submit_suicidal(client, World.pa_phone)["escalation"]["id"]
    rt.dispatcher.drain()
    assert pages_to(standin, X1, esc_id) == 1
    everyone_stops(client)
    rt.dispatcher.drain()
    # Nobody left to page: the duty phone hears at once, not after three cycles of time-outs.
    assert pages_to(standin, FALLBACK, esc_id) == 1
    assert client.get("/readyz").status_code == 503


def test_start_resumes_paging_for_every_open_unacknowledged_escalation(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    standin: TwilioStandIn,
    clock: FrozenClock,
) -> None:
    rt, client = twilio_rt, twilio_client
    everyone_stops(client)
    first = submit_suicidal(client, World.pa_phone)["escalation"]["id"]
    second = submit_suicidal(client, World.pb_phone)["escalation"]["id"]
    rt.dispatcher.drain()
    with rt.database.unit_of_work() as s:
        assert all(s.get(Escalation, i).paging_exhausted for i in (first, second))  # type: ignore[union-attr]
    standin.received.clear()

    # One clinician (tier 2) opts back in: both escalations page them at once.
    reply = text_in(client, X2, "START")
    assert "urgent pages" in reply
    rt.dispatcher.drain()
    assert pages_to(standin, X2, first) == 1 and pages_to(standin, X2, second) == 1
    assert "paging_resumed" in events(rt, first)
    assert client.get("/readyz").status_code == 200
    listed = client.get("/api/v1/escalations", headers=Auth(client).headers(World.cx2)).get_json()
    assert not any(item["unpageable"] for item in listed["items"])

    # No double pages: a repeated START and a sweep change nothing.
    text_in(client, X2, "START")
    rt.dispatcher.drain()
    assert pages_to(standin, X2, first) == 1 and pages_to(standin, X2, second) == 1

    # The chain runs on as usual: unacknowledged for the urgent time-out, X2 is paged again.
    clock.advance(timedelta(minutes=10))
    advance_unacknowledged(rt)
    rt.dispatcher.drain()
    assert pages_to(standin, X2, first) == 2

    # An ACK stops it; an acknowledged escalation is not re-paged by a later START.
    text_in(client, X2, f"ACK {first}")
    text_in(client, X1, "START")
    rt.dispatcher.drain()
    assert pages_to(standin, X1, first) == 0
    assert pages_to(standin, X1, second) == 1  # tier 1 of a running chain: paged now


def test_opting_in_mid_chain_pages_the_current_tier_member_once(
    twilio_client: FlaskClient, twilio_rt: Runtime, world: World, standin: TwilioStandIn
) -> None:
    rt, client = twilio_rt, twilio_client
    text_in(client, X1, "STOP")
    esc_id = submit_suicidal(client, World.pa_phone)["escalation"]["id"]
    rt.dispatcher.drain()
    assert pages_to(standin, X2, esc_id) == 1  # tier 1 skipped, tier 2 paged
    text_in(client, X2, "STOP")
    text_in(client, X2, "START")  # back in the tier now paging
    rt.dispatcher.drain()
    assert pages_to(standin, X2, esc_id) == 1  # already paged in this tier: not again
    text_in(client, X1, "START")  # tier 1 is behind the chain: joins the tier paging now
    rt.dispatcher.drain()
    assert pages_to(standin, X1, esc_id) == 1
    assert pages_to(standin, X2, esc_id) == 1


PATIENTS = 12


def test_fault_every_clinician_opted_out_then_one_opts_back_in(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    standin: TwilioStandIn,
    clock: FrozenClock,
) -> None:
    """The README's fault-table scenario: expected, delivered, duplicated, lost.

    Every clinician of clinic X texts STOP; 12 patients then report suicidal thoughts.
    Expected: each escalation reaches the clinic's fallback phone once at once, and each
    reaches the clinician who texts START once at once. Nothing may be lost.
    """
    from services import patients
    from services.passwords import hash_secret
    from store.models import User
    from tests.support.world import patient_body

    rt, client = twilio_rt, twilio_client
    set_fallback(rt, world)
    phones = [f"+120255501{60 + i:02d}" for i in range(PATIENTS)]
    with rt.database.unit_of_work() as s:
        clinician = s.get(User, world.clinician_x1)
        assert clinician is not None
        for i, phone in enumerate(phones):
            profile = patients.enroll_patient(
                s,
                clinician=clinician,
                now=clock.now(),
                data=patient_body(name=f"p{i}", phone=phone, care_team=[clinician.id]),
            )
            profile.user.password_hash = hash_secret(World.PASSWORD)
            profile.activated_at = clock.now()
    rt.dispatcher.drain()
    standin.received.clear()

    everyone_stops(client)
    ids = [submit_suicidal(client, phone)["escalation"]["id"] for phone in phones]
    rt.dispatcher.drain()
    assert client.get("/readyz").status_code == 503
    text_in(client, X3, "START")
    rt.dispatcher.drain()
    assert client.get("/readyz").status_code == 200

    expected = {(FALLBACK, i) for i in ids} | {(X3, i) for i in ids}
    copies = {key: pages_to(standin, key[0], key[1]) for key in expected}
    delivered = sum(1 for n in copies.values() if n)
    duplicated = sum(n - 1 for n in copies.values() if n > 1)
    lost = len(expected) - delivered
    stray = [r["To"] for r in standin.received if r["To"] in (X1, X2) and "Escalation" in r["Body"]]
    print(
        f"\nevery clinician opted out, then one opts back in: expected={len(expected)} "
        f"delivered={delivered} duplicated={duplicated} lost={lost}"
    )
    assert (lost, duplicated, stray) == (0, 0, [])


def test_the_last_clinician_leaving_tells_the_fallback_phone(
    twilio_client: FlaskClient, twilio_rt: Runtime, world: World, standin: TwilioStandIn
) -> None:
    rt, client = twilio_rt, twilio_client
    set_fallback(rt, world)
    rt.dispatcher.drain()
    standin.received.clear()
    text_in(client, X1, "STOP")
    text_in(client, X2, "STOP")
    rt.dispatcher.drain()
    assert FALLBACK not in standin.to_numbers()  # X3 can still be paged
    text_in(client, X3, "STOP")
    rt.dispatcher.drain()
    [notice] = [r for r in standin.received if r["To"] == FALLBACK]
    assert "nobody at your clinic" in notice["Body"]


def test_twilio_saying_a_clinician_unsubscribed_takes_them_off_paging(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    standin: TwilioStandIn,
    clock: FrozenClock,
) -> None:
    """The same silent fault from Twilio's side: 21610 means they texted STOP to Twilio."""
    from tests.escalations.support import twilio_error

    rt, client = twilio_rt, twilio_client
    rt.dispatcher.drain()
    standin.received.clear()
    standin.faults.append(twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"))
    esc_id = submit_suicidal(client, World.pa_phone)["escalation"]["id"]
    rt.dispatcher.drain()
    assert pages_to(standin, X2, esc_id) == 1  # moved on at once, as before
    with rt.database.unit_of_work() as s:
        x1 = s.get(User, world.clinician_x1)
        assert x1 is not None and x1.sms_opted_out  # and now known to be unreachable
    for _ in range(3):  # the next cycle skips X1 instead of failing on them again
        clock.advance(timedelta(minutes=10))
        advance_unacknowledged(rt)
        rt.dispatcher.drain()
    assert pages_to(standin, X1, esc_id) == 0
    assert "page_skipped" in events(rt, esc_id)
