"""Issue 15 item 3: new urgent evidence on an acknowledged escalation pages again.

Through the API and the signed webhook, with pages through the real twilio SDK: the
acknowledging clinician is paged at once, the escalation needs acknowledging again
(status ``open``), and unacknowledged after the urgent time-out the whole chain restarts.
"""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient

from schedules.escalations import advance_unacknowledged
from services.runtime import Runtime
from store.clock import FrozenClock
from tests.escalations.support import ITEM9_ONE, TwilioStandIn
from tests.escalations.test_opt_out import X1, X2, events, pages_to, submit_suicidal, text_in
from tests.support.suite import Auth
from tests.support.world import World


def _acknowledged_by_tier_two(
    client: FlaskClient, rt: Runtime, clock: FrozenClock, standin: TwilioStandIn
) -> int:
    esc_id: int = submit_suicidal(client, World.pa_phone)["escalation"]["id"]
    clock.advance(timedelta(minutes=10))
    advance_unacknowledged(rt)
    rt.dispatcher.drain()
    assert (pages_to(standin, X1, esc_id), pages_to(standin, X2, esc_id)) == (1, 1)
    assert "acknowledged" in text_in(client, X2, f"ACK {esc_id}")
    return esc_id


def test_new_urgent_evidence_pages_the_acknowledger_at_once_then_the_chain(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    standin: TwilioStandIn,
    clock: FrozenClock,
) -> None:
    rt, client = twilio_rt, twilio_client
    esc_id = _acknowledged_by_tier_two(client, rt, clock, standin)
    clock.advance(timedelta(days=3))  # however old the acknowledgement

    again = submit_suicidal(client, World.pa_phone)["escalation"]
    assert again["id"] == esc_id
    rt.dispatcher.drain()
    # The acknowledger, and only they, is paged at once.
    assert (pages_to(standin, X1, esc_id), pages_to(standin, X2, esc_id)) == (1, 2)
    detail = client.get(
        f"/api/v1/escalations/{esc_id}", headers=Auth(client).headers(World.cx1)
    ).get_json()
    assert (detail["status"], detail["acknowledged_by"], detail["unacknowledged"]) == (
        "open",
        None,
        True,
    )
    assert detail["next_page_at"] is not None
    assert events(rt, esc_id)[-3:] == ["evidence_added", "reopened", "paged"]

    # Nobody acknowledges the new evidence within the urgent time-out: the chain restarts.
    clock.advance(timedelta(minutes=9))
    assert advance_unacknowledged(rt) == 0
    clock.advance(timedelta(minutes=1))
    assert advance_unacknowledged(rt) == 1
    rt.dispatcher.drain()
    assert pages_to(standin, X1, esc_id) == 2  # tier 1 again
    clock.advance(timedelta(minutes=10))
    advance_unacknowledged(rt)
    rt.dispatcher.drain()
    assert pages_to(standin, X2, esc_id) == 3  # tier 2 again


def test_acknowledging_the_new_evidence_stops_paging(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    standin: TwilioStandIn,
    clock: FrozenClock,
) -> None:
    rt, client = twilio_rt, twilio_client
    esc_id = _acknowledged_by_tier_two(client, rt, clock, standin)
    clock.advance(timedelta(hours=5))
    submit_suicidal(client, World.pa_phone)
    rt.dispatcher.drain()
    assert "acknowledged" in text_in(client, X2, f"ACK {esc_id}")
    for _ in range(4):
        clock.advance(timedelta(minutes=10))
        assert advance_unacknowledged(rt) == 0
    rt.dispatcher.drain()
    assert (pages_to(standin, X1, esc_id), pages_to(standin, X2, esc_id)) == (1, 2)


def test_high_evidence_on_an_acknowledged_urgent_escalation_stays_evidence(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    standin: TwilioStandIn,
    clock: FrozenClock,
) -> None:
    """Only urgent evidence re-pages; a lesser signal joins the escalation for the inbox."""
    rt, client = twilio_rt, twilio_client
    esc_id = _acknowledged_by_tier_two(client, rt, clock, standin)
    response = client.post(
        "/api/v1/checkins/phq9",
        json={"answers": ITEM9_ONE},
        headers=Auth(client).headers(World.pa_phone),
    )
    assert response.status_code == 201 and response.get_json()["escalation"]["id"] == esc_id
    rt.dispatcher.drain()
    assert (pages_to(standin, X1, esc_id), pages_to(standin, X2, esc_id)) == (1, 1)


def test_the_acknowledger_who_opted_out_since_restarts_the_chain_at_once(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    standin: TwilioStandIn,
    clock: FrozenClock,
) -> None:
    rt, client = twilio_rt, twilio_client
    esc_id = _acknowledged_by_tier_two(client, rt, clock, standin)
    text_in(client, X2, "STOP")
    submit_suicidal(client, World.pa_phone)
    rt.dispatcher.drain()
    assert pages_to(standin, X1, esc_id) == 2  # tier 1 of a fresh chain, at once


def test_a_raised_priority_also_pages_the_acknowledger_at_once(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    standin: TwilioStandIn,
    clock: FrozenClock,
) -> None:
    rt, client = twilio_rt, twilio_client
    high = client.post(
        "/api/v1/checkins/phq9",
        json={"answers": ITEM9_ONE},
        headers=Auth(client).headers(World.pa_phone),
    ).get_json()["escalation"]
    clock.advance(timedelta(minutes=30))
    advance_unacknowledged(rt)  # high: tier 2 after 30 minutes
    rt.dispatcher.drain()
    text_in(client, X2, f"ACK {high['id']}")
    submit_suicidal(client, World.pa_phone)  # raises it to urgent
    rt.dispatcher.drain()
    # Tier 1 of the fresh chain and, at once, the tier-2 clinician who acknowledged.
    assert (pages_to(standin, X1, high["id"]), pages_to(standin, X2, high["id"])) == (2, 2)
