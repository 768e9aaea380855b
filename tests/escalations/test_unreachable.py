"""Edge cases of the chain: nobody on call, and new danger on an exhausted or taken escalation."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select, update

from schedules.escalations import advance_unacknowledged
from services.runtime import Runtime
from store.clock import FrozenClock
from store.escalations import Escalation
from store.models import Clinic, OutboxMessage, User, care_team
from tests.escalations.support import SUICIDAL, phq9, raise_for
from tests.support.suite import Auth
from tests.support.world import World


def _nobody_on_call(rt: Runtime, world: World) -> None:
    with rt.database.unit_of_work() as s:
        s.execute(update(User).where(User.clinic_id == world.clinic_x).values(on_call_tier=None))
        s.execute(care_team.delete())


def _pages(rt: Runtime) -> int:
    with rt.database.unit_of_work() as s:
        return len(s.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "page")).all())


def _escalation(rt: Runtime, escalation_id: int) -> Escalation:
    with rt.database.unit_of_work() as s:
        escalation = s.get(Escalation, escalation_id)
        assert escalation is not None
        return escalation


def test_a_clinic_with_nobody_on_call_still_records_the_flag(rt: Runtime, world: World) -> None:
    _nobody_on_call(rt, world)
    [ref] = raise_for(rt, world.patient_a, phq9(SUICIDAL))
    escalation = _escalation(rt, ref.id)
    # Stored, open and marked unacknowledged-and-unpageable for the inbox; no crash.
    assert escalation.status == "open" and escalation.paging_exhausted
    assert _pages(rt) == 0


def test_nobody_on_call_does_not_block_the_timer_for_others(
    rt: Runtime, world: World, clock: FrozenClock
) -> None:
    [first] = raise_for(rt, world.patient_a, phq9(SUICIDAL))
    [second] = raise_for(rt, world.patient_c_y, phq9(SUICIDAL))
    _nobody_on_call(rt, world)  # clinic X loses everyone after paging began
    clock.advance(timedelta(minutes=11))
    advance_unacknowledged(rt)
    assert _escalation(rt, first.id).paging_exhausted
    # Clinic Y's escalation moved on regardless.
    assert _escalation(rt, second.id).cycle == 2  # its only tier paged again


def test_new_urgent_evidence_on_an_exhausted_escalation_pages_again(
    rt: Runtime, world: World
) -> None:
    [ref] = raise_for(rt, world.patient_a, phq9(SUICIDAL))
    with rt.database.unit_of_work() as s:
        s.execute(
            update(Escalation)
            .where(Escalation.id == ref.id)
            .values(paging_exhausted=True, next_page_at=None)
        )
    before = _pages(rt)
    [again] = raise_for(rt, world.patient_a, phq9(SUICIDAL))
    assert again.id == ref.id
    assert _pages(rt) > before
    assert not _escalation(rt, ref.id).paging_exhausted


def _fallback(rt: Runtime, world: World, phone: str = "+12025550199") -> None:
    with rt.database.unit_of_work() as s:
        clinic = s.get(Clinic, world.clinic_x)
        assert clinic is not None
        clinic.escalation_policy = {**clinic.escalation_policy, "fallback_phone": phone}


def _fallback_pages(rt: Runtime) -> list[OutboxMessage]:
    with rt.database.unit_of_work() as s:
        return list(
            s.scalars(select(OutboxMessage).where(OutboxMessage.to_number == "+12025550199"))
        )


def test_nobody_on_call_texts_the_clinics_fallback_phone(rt: Runtime, world: World) -> None:
    _fallback(rt, world)
    _nobody_on_call(rt, world)
    [ref] = raise_for(rt, world.patient_a, phq9(SUICIDAL))
    [page] = _fallback_pages(rt)
    assert page.escalation_id == ref.id and f"escalation {ref.id}" in page.body
    assert "inbox" in page.body


def test_a_chain_that_runs_out_texts_the_fallback_once(
    rt: Runtime, world: World, clock: FrozenClock
) -> None:
    _fallback(rt, world)
    raise_for(rt, world.patient_a, phq9(SUICIDAL))
    assert _fallback_pages(rt) == []
    for _ in range(12):  # three tiers x three cycles, and then some
        clock.advance(timedelta(minutes=11))
        advance_unacknowledged(rt)
    assert len(_fallback_pages(rt)) == 1


def test_the_fallback_phone_is_validated_and_shown(
    client: FlaskClient, auth: Auth, world: World
) -> None:
    headers = auth.headers(World.admin)
    url = f"/api/v1/clinics/{world.clinic_x}"
    bad = client.patch(url, json={"escalation_policy": {"fallback_phone": "555"}}, headers=headers)
    assert bad.status_code == 422 and "escalation_policy.fallback_phone" in bad.get_json()["errors"]
    good = client.patch(
        url, json={"escalation_policy": {"fallback_phone": "+1 202 555 0199"}}, headers=headers
    )
    assert good.status_code == 200
    assert good.get_json()["escalation_policy"]["fallback_phone"] == "+12025550199"
