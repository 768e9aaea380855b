"""Issue 15 item 9: reassigning to a clinician who cannot be texted is refused (409, why)."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select, update

from services.runtime import Runtime
from store.escalations import Escalation, EscalationEvent
from store.models import OutboxMessage, User
from tests.escalations.support import ITEM9_SKIPPED, TwilioStandIn
from tests.escalations.test_opt_out import X3, submit_suicidal, text_in
from tests.support.suite import Auth
from tests.support.world import World


def _state(rt: Runtime, esc_id: int) -> tuple[int | None, list[str], int]:
    with rt.database.unit_of_work() as s:
        escalation = s.get(Escalation, esc_id)
        assert escalation is not None
        events = s.scalars(
            select(EscalationEvent.event).where(EscalationEvent.escalation_id == esc_id)
        ).all()
        assigns = s.scalars(
            select(OutboxMessage.id).where(OutboxMessage.purpose == "page_assign")
        ).all()
        return escalation.assigned_to, list(events), len(assigns)


def test_reassigning_to_an_opted_out_clinician_is_409_naming_why(
    twilio_client: FlaskClient, twilio_rt: Runtime, world: World, standin: TwilioStandIn
) -> None:
    client, rt = twilio_client, twilio_rt
    esc_id = submit_suicidal(client, World.pa_phone)["escalation"]["id"]
    text_in(client, X3, "STOP")
    before = _state(rt, esc_id)
    response = client.post(
        f"/api/v1/escalations/{esc_id}/reassign",
        json={"clinician_id": world.clinician_x3},
        headers=Auth(client).headers(World.cx1),
    )
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert "opted out" in response.get_json()["detail"]
    assert _state(rt, esc_id) == before  # nothing changed, nobody texted


def test_reassigning_to_a_clinician_without_a_phone_is_409(
    twilio_client: FlaskClient, twilio_rt: Runtime, world: World
) -> None:
    client, rt = twilio_client, twilio_rt
    esc_id = submit_suicidal(client, World.pa_phone)["escalation"]["id"]
    with rt.database.unit_of_work() as s:
        s.execute(update(User).where(User.id == world.clinician_x3).values(phone=None))
    response = client.post(
        f"/api/v1/escalations/{esc_id}/reassign",
        json={"clinician_id": world.clinician_x3},
        headers=Auth(client).headers(World.cx1),
    )
    assert response.status_code == 409
    assert "no phone" in response.get_json()["detail"]


def test_a_routine_item_may_go_to_someone_without_sms(
    twilio_client: FlaskClient, twilio_rt: Runtime, world: World
) -> None:
    """Routine items are never texted, so who holds one need not be reachable by SMS."""
    client = twilio_client
    response = client.post(
        "/api/v1/checkins/phq9",
        json={"answers": ITEM9_SKIPPED},
        headers=Auth(client).headers(World.pa_phone),
    )
    esc_id = response.get_json()["escalation"]["id"]
    text_in(client, X3, "STOP")
    ok = client.post(
        f"/api/v1/escalations/{esc_id}/reassign",
        json={"clinician_id": world.clinician_x3},
        headers=Auth(client).headers(World.cx1),
    )
    assert ok.status_code == 200 and ok.get_json()["assigned_to"] == world.clinician_x3


def test_a_clinician_skipped_for_having_no_phone_is_listed_as_unreachable(
    twilio_client: FlaskClient, twilio_rt: Runtime, world: World
) -> None:
    client, rt = twilio_client, twilio_rt
    with rt.database.unit_of_work() as s:
        s.execute(update(User).where(User.id == world.clinician_x1).values(phone=None))
    esc_id = submit_suicidal(client, World.pa_phone)["escalation"]["id"]
    detail = client.get(
        f"/api/v1/escalations/{esc_id}", headers=Auth(client).headers(World.cx2)
    ).get_json()
    assert detail["unreachable_clinicians"] == [world.clinician_x1]
