"""Overdue maintenance: one routine escalation per missed due time, whoever runs the check."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select

from schedules import runs
from services.runtime import Runtime
from store.clock import FrozenClock
from store.escalations import Escalation, EscalationEvidence
from store.models import Clinic, OutboxMessage
from tests.schedule.support import record
from tests.support.suite import Auth
from tests.support.world import World


def _maintenance(client: FlaskClient, auth: Auth, patient_id: int, clock: FrozenClock) -> None:
    client.patch(
        f"/api/v1/patients/{patient_id}",
        json={"phase": "maintenance"},
        headers=auth.headers(World.cx1),
    )
    record(client, auth.headers(World.cx1), patient_id, clock.now())


def _escalations(rt: Runtime) -> list[tuple[Escalation, list[EscalationEvidence]]]:
    with rt.database.session() as session:
        rows = session.scalars(
            select(Escalation)
            .where(Escalation.kind == "maintenance_overdue")
            .order_by(Escalation.id)
        ).all()
        return [(e, list(e.evidence)) for e in rows]


def test_overdue_after_interval_plus_grace_once(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    start = clock.now()
    _maintenance(client, auth, world.patient_a, clock)
    due = start + timedelta(days=3)
    clock.set(due + timedelta(days=2) - timedelta(minutes=1))
    assert runs.overdue_maintenance(rt) == 0
    assert _escalations(rt) == []

    clock.set(due + timedelta(days=2))
    assert runs.overdue_maintenance(rt) == 1
    other = Runtime.from_settings(rt.settings, sms=rt.sms, clock=clock)
    try:
        for runtime in (rt, other, rt):
            clock.advance(timedelta(hours=1))
            assert runs.overdue_maintenance(runtime) == 0
    finally:
        other.database.dispose()
    ((escalation, evidence),) = _escalations(rt)
    assert escalation.patient_id == world.patient_a
    assert escalation.priority == "routine" and escalation.status == "open"
    assert len(evidence) == 1 and evidence[0].source_type == "schedule"
    assert evidence[0].detail["interval_days"] == 3
    # Routine: the inbox only, no page.
    with rt.database.session() as session:
        pages = session.scalars(
            select(OutboxMessage).where(OutboxMessage.escalation_id == escalation.id)
        ).all()
        assert pages == []


def test_a_late_session_rearms_the_check(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    start = clock.now()
    _maintenance(client, auth, world.patient_a, clock)
    clock.set(start + timedelta(days=5))
    assert runs.overdue_maintenance(rt) == 1
    # The session finally happens, late; then the next one is missed too.
    late = start + timedelta(days=6)
    clock.set(late + timedelta(hours=1))
    record(client, auth.headers(World.cx1), world.patient_a, late)
    clock.set(late + timedelta(days=5) - timedelta(minutes=1))
    assert runs.overdue_maintenance(rt) == 0
    clock.set(late + timedelta(days=5))
    assert runs.overdue_maintenance(rt) == 1
    # Still open: the second flag joins the first escalation as more evidence.
    ((_escalation, evidence),) = _escalations(rt)
    assert len(evidence) == 2


def test_clinic_grace_days_apply(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    with rt.database.unit_of_work() as session:
        clinic = session.get(Clinic, world.clinic_x)
        assert clinic is not None
        clinic.escalation_rules = {"maintenance_grace_days": 0}
    start = clock.now()
    _maintenance(client, auth, world.patient_a, clock)
    clock.set(start + timedelta(days=3))
    assert runs.overdue_maintenance(rt) == 1


def test_patients_not_in_maintenance_are_never_overdue(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, clock: FrozenClock
) -> None:
    record(client, auth.headers(World.cx1), world.patient_a, clock.now())  # acute
    clock.advance(timedelta(days=30))
    assert runs.overdue_maintenance(rt) == 0
