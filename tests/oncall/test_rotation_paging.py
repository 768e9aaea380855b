"""Paging follows the on-call schedule: a two-person weekly rotation across a DST change pages
the right person on each side of the 08:00 local hand-off; tier 1 still begins with the
patient's care team; tiers without a schedule keep following on_call_tier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

from notifications.log_sms import LogSmsSender
from schedules.escalations import advance_unacknowledged
from services.runtime import Runtime
from store.clock import FrozenClock
from tests.escalations.support import SUICIDAL
from tests.oncall.support import DR_A, DR_B, add_clinician, rotation
from tests.support.suite import Auth
from tests.support.world import World

X1, X2, X3 = "+12025550101", "+12025550102", "+12025550103"


def submit(client: FlaskClient, auth: Auth, phone: str) -> int:
    response = client.post(
        "/api/v1/checkins/phq9", json={"answers": SUICIDAL}, headers=auth.headers(phone)
    )
    assert response.status_code == 201, response.get_json()
    escalation_id: int = response.get_json()["escalation"]["id"]
    return escalation_id


def paged(rt: Runtime, sms: LogSmsSender) -> list[str]:
    """Numbers paged by the next dispatcher pass (activation codes etc. cleared first)."""
    sms.sent.clear()
    rt.dispatcher.drain()
    return [to for to, body in sms.sent if "needs attention" in body]


# New York, 2026: clocks go back on Sunday 1 November and forward on Sunday 8 March.
# A weekly hand-off at 08:00 local on Mondays: 08:00 EDT = 12:00 UTC, 08:00 EST = 13:00 UTC.
# Adding 7 x 24 hours in UTC would put the hand-off an hour off on the far side.
CASES = {
    "autumn": ("2026-10-26", datetime(2026, 11, 2, 13, 0, tzinfo=UTC)),
    "spring": ("2026-03-02", datetime(2026, 3, 9, 12, 0, tzinfo=UTC)),
}


@pytest.mark.parametrize("change", sorted(CASES))
def test_weekly_rotation_across_dst_pages_the_right_person_each_side(
    client: FlaskClient,
    auth: Auth,
    rt: Runtime,
    world: World,
    clock: FrozenClock,
    sms: LogSmsSender,
    change: str,
) -> None:
    starts_on, handoff = CASES[change]
    clock.set(handoff - timedelta(days=8))
    dr_a = add_clinician(rt, world.clinic_x, email="a@tandem.test", phone=DR_A)
    dr_b = add_clinician(rt, world.clinic_x, email="b@tandem.test", phone=DR_B)
    put = client.put(
        f"/api/v1/clinics/{world.clinic_x}/on-call",
        json={"tiers": {"1": rotation([dr_a, dr_b], starts_on=starts_on)}},
        headers=auth.headers(World.admin),
    )
    assert put.status_code == 200, put.get_json()
    rt.dispatcher.drain()

    # Half an hour before the hand-off (after the DST change): still A's week.
    clock.set(handoff - timedelta(minutes=30))
    first = submit(client, auth, World.pa_phone)
    assert paged(rt, sms) == [X1, DR_A]  # the care team first, then who is on call

    # Half an hour after: B's week. Patient B's escalation pages B, not A.
    clock.set(handoff + timedelta(minutes=30))
    second = submit(client, auth, World.pb_phone)
    assert paged(rt, sms) == [X1, DR_B]
    assert first != second

    # The inbox API says who is on call now, and the schedule's view at any instant agrees.
    h = auth.headers(World.cx1)
    listing = client.get("/api/v1/escalations", headers=h).get_json()
    assert listing["on_call"]["tiers"]["1"]["clinician_id"] == dr_b
    earlier = (handoff - timedelta(minutes=1)).isoformat().replace("+", "%2B")
    view = client.get(f"/api/v1/clinics/{world.clinic_x}/on-call?at={earlier}", headers=h)
    assert view.get_json()["tiers"]["1"] == {"clinician_id": dr_a, "until": handoff.isoformat()}

    # Tier 2 has no schedule: it still follows on_call_tier once tier 1 times out.
    clock.advance(timedelta(minutes=10))
    assert advance_unacknowledged(rt) == 2
    assert sorted(paged(rt, sms)) == [X2, X2]


def test_a_deactivated_on_call_clinician_falls_back_to_on_call_tier(
    client: FlaskClient, auth: Auth, rt: Runtime, world: World, sms: LogSmsSender
) -> None:
    """A schedule naming nobody usable never silences a tier."""
    from store.models import User

    dr_a = add_clinician(rt, world.clinic_x, email="a@tandem.test", phone=DR_A)
    client.put(
        f"/api/v1/clinics/{world.clinic_x}/on-call",
        json={"tiers": {"2": rotation([dr_a], starts_on="2026-10-01", days=1)}},
        headers=auth.headers(World.admin),
    )
    with rt.database.unit_of_work() as s:
        user = s.get(User, dr_a)
        assert user is not None
        user.is_active = False
    submit(client, auth, World.pa_phone)
    assert paged(rt, sms) == [X1]
    rt.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
    assert advance_unacknowledged(rt) == 1
    assert paged(rt, sms) == [X2]


def test_a_schedule_that_has_not_started_leaves_the_tier_to_on_call_tier(
    client: FlaskClient, auth: Auth, rt: Runtime, world: World, sms: LogSmsSender
) -> None:
    dr_a = add_clinician(rt, world.clinic_x, email="a@tandem.test", phone=DR_A)
    client.put(
        f"/api/v1/clinics/{world.clinic_x}/on-call",
        json={"tiers": {"2": rotation([dr_a], starts_on="2027-01-04")}},
        headers=auth.headers(World.admin),
    )
    submit(client, auth, World.pa_phone)
    rt.dispatcher.drain()
    rt.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
    advance_unacknowledged(rt)
    assert paged(rt, sms) == [X2]
