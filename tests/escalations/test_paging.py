"""The paging chain: tiers, time-outs, repeats, skips, and pages that cannot be delivered."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from notifications.log_sms import LogSmsSender
from notifications.outbox import Dispatcher
from schedules.escalations import advance_unacknowledged
from services import escalations
from services.escalations.flow import tiers_for
from services.runtime import Runtime
from store.clock import FrozenClock
from store.escalations import Escalation, EscalationEvent
from store.models import Clinic, OutboxMessage, PatientProfile, User
from tests.escalations.support import (
    ITEM9_ONE,
    SUICIDAL,
    TwilioStandIn,
    phq9,
    raise_for,
    twilio_error,
)
from tests.support.world import World

X1, X2, X3 = "+12025550101", "+12025550102", "+12025550103"


def pages(rt: Runtime) -> list[tuple[str, int | None]]:
    """(to, tier) of every page queued so far, in order."""
    with rt.database.unit_of_work() as s:
        rows = s.execute(
            select(OutboxMessage.to_number, OutboxMessage.escalation_tier)
            .where(OutboxMessage.purpose == "page")
            .order_by(OutboxMessage.id)
        )
        return [(r[0], r[1]) for r in rows]


def escalation(rt: Runtime, escalation_id: int) -> Escalation:
    with rt.database.unit_of_work() as s:
        esc = s.get(Escalation, escalation_id)
        assert esc is not None
        return esc


def events(rt: Runtime, escalation_id: int) -> list[EscalationEvent]:
    with rt.database.unit_of_work() as s:
        return list(
            s.scalars(
                select(EscalationEvent)
                .where(EscalationEvent.escalation_id == escalation_id)
                .order_by(EscalationEvent.id)
            )
        )


def test_tiers_put_the_care_team_first_and_dedupe(rt: Runtime, world: World) -> None:
    with rt.database.unit_of_work() as s:
        patient = s.get(PatientProfile, world.patient_a)
        x2 = s.get(User, world.clinician_x2)
        assert patient is not None and x2 is not None
        patient.care_team.append(x2)
        s.flush()
        chain = [(t.number, [c.id for c in t.clinicians]) for t in tiers_for(s, patient=patient)]
    assert chain == [
        (1, [world.clinician_x1, world.clinician_x2]),
        (2, [world.clinician_x2]),
        (3, [world.clinician_x3]),
    ]


def test_no_ack_moves_up_the_tiers_repeats_then_stays_open(
    rt: Runtime, world: World, clock: FrozenClock
) -> None:
    ref = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0]
    assert pages(rt) == [(X1, 1)]

    clock.advance(timedelta(seconds=599))
    assert advance_unacknowledged(rt) == 0  # not yet timed out
    assert pages(rt) == [(X1, 1)]

    expected = [(X1, 1)]
    for cycle in (1, 2, 3):
        tiers = (2, 3) if cycle == 1 else (1, 2, 3)
        for tier in tiers:
            clock.advance(timedelta(seconds=600))
            assert advance_unacknowledged(rt) == 1
            assert advance_unacknowledged(rt) == 0  # a second run right after: nothing
            expected.append(({1: X1, 2: X2, 3: X3}[tier], tier))
            assert pages(rt) == expected
            esc = escalation(rt, ref.id)
            assert (esc.tier, esc.cycle) == (tier, cycle)
    assert len(expected) == 9  # 3 tiers x 3 cycles (the default "repeat")

    clock.advance(timedelta(seconds=600))
    assert advance_unacknowledged(rt) == 1
    esc = escalation(rt, ref.id)
    assert (esc.status, esc.paging_exhausted, esc.next_page_at) == ("open", True, None)
    assert events(rt, ref.id)[-1].event == "paging_exhausted"
    clock.advance(timedelta(hours=5))
    assert advance_unacknowledged(rt) == 0
    assert len(pages(rt)) == 9


def test_high_priority_waits_thirty_minutes(rt: Runtime, world: World, clock: FrozenClock) -> None:
    raise_for(rt, world.patient_a, phq9(ITEM9_ONE))
    clock.advance(timedelta(seconds=1799))
    assert advance_unacknowledged(rt) == 0
    clock.advance(timedelta(seconds=1))
    assert advance_unacknowledged(rt) == 1
    assert pages(rt) == [(X1, 1), (X2, 2)]


def test_clinic_policy_sets_timeouts_and_repeats(
    rt: Runtime, world: World, clock: FrozenClock
) -> None:
    with rt.database.unit_of_work() as s:
        clinic = s.get(Clinic, world.clinic_x)
        assert clinic is not None
        clinic.escalation_policy = {"ack_timeout_seconds": {"urgent": 60}, "repeat": 1}
    ref = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0]
    for _ in range(3):
        clock.advance(timedelta(seconds=60))
        advance_unacknowledged(rt)
    assert pages(rt) == [(X1, 1), (X2, 2), (X3, 3)]
    assert escalation(rt, ref.id).paging_exhausted is True


def test_acknowledged_escalation_is_not_paged_again(
    rt: Runtime, world: World, clock: FrozenClock
) -> None:
    ref = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0]
    with rt.database.unit_of_work() as s:
        viewer = s.get(User, world.clinician_x1)
        assert viewer is not None
        escalations.acknowledge(s, viewer=viewer, escalation_id=ref.id, now=clock.now())
    clock.advance(timedelta(hours=2))
    assert advance_unacknowledged(rt) == 0
    assert pages(rt) == [(X1, 1)]


def test_opted_out_clinician_is_skipped_and_reported(
    rt: Runtime, world: World, clock: FrozenClock
) -> None:
    with rt.database.unit_of_work() as s:
        x2 = s.get(User, world.clinician_x2)
        assert x2 is not None
        x2.sms_opted_out = True
    ref = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0]
    clock.advance(timedelta(seconds=600))
    advance_unacknowledged(rt)
    # Tier 2 reaches nobody, so tier 3 is paged at once.
    assert pages(rt) == [(X1, 1), (X3, 3)]
    skipped = [e for e in events(rt, ref.id) if e.event == "page_skipped"]
    assert [(e.detail["clinician_id"], e.detail["reason"]) for e in skipped] == [
        (world.clinician_x2, "sms_opted_out")
    ]
    with rt.database.unit_of_work() as s:
        viewer = s.get(User, world.clinician_x1)
        assert viewer is not None
        detail = escalations.get_escalation(s, viewer=viewer, escalation_id=ref.id, now=clock.now())
        assert detail.unreachable_clinicians == [world.clinician_x2]


def test_patient_opt_out_and_quiet_hours_do_not_silence_pages(
    rt: Runtime, world: World, clock: FrozenClock, sms: LogSmsSender
) -> None:
    with rt.database.unit_of_work() as s:
        patient = s.get(User, world.patient_a)
        assert patient is not None
        patient.sms_opted_out = True
    clock.set(clock.now().replace(hour=4))  # 23:00 in New York: quiet hours
    raise_for(rt, world.patient_a, phq9(SUICIDAL))
    rt.dispatcher.drain()
    assert [to for to, body in sms.sent if "ACK" in body] == [X1]


def test_empty_tiers_are_skipped(rt: Runtime, world: World, clock: FrozenClock) -> None:
    with rt.database.unit_of_work() as s:
        x2 = s.get(User, world.clinician_x2)
        assert x2 is not None
        x2.on_call_tier = None
    raise_for(rt, world.patient_a, phq9(SUICIDAL))
    clock.advance(timedelta(seconds=600))
    advance_unacknowledged(rt)
    assert pages(rt) == [(X1, 1), (X3, 3)]


def test_nobody_reachable_marks_exhausted_but_keeps_it_open(rt: Runtime, world: World) -> None:
    with rt.database.unit_of_work() as s:
        for uid in (world.clinician_x1, world.clinician_x2, world.clinician_x3):
            user = s.get(User, uid)
            assert user is not None
            user.sms_opted_out = True
    ref = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0]
    esc = escalation(rt, ref.id)
    assert (esc.status, esc.paging_exhausted) == ("open", True)
    assert pages(rt) == []


def test_permanent_send_failure_pages_next_tier_at_once(
    rt: Runtime, world: World, clock: FrozenClock, standin: TwilioStandIn
) -> None:
    sender = standin.sender()
    dispatcher = Dispatcher(
        database=rt.database,
        sender=sender,
        clock=clock,
        failure_listeners=list(rt.dispatcher.failure_listeners),
    )
    dispatcher.drain()  # the world's activation codes
    standin.received.clear()
    ref = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0]
    standin.faults.append(twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"))
    dispatcher.drain()
    # No clock movement: tier 2 was queued by the failure and sent in the same drain.
    assert [r["To"] for r in standin.received if "Escalation" in r["Body"]] == [X2]
    # 21610 means the number texted STOP: its colleagues hear that one of them left paging.
    assert sorted(r["To"] for r in standin.received if "colleague" in r["Body"]) == [
        X2,
        "+12025550103",
    ]
    esc = escalation(rt, ref.id)
    assert (esc.tier, esc.status) == (2, "open")
    kinds = [e.event for e in events(rt, ref.id)]
    assert kinds[-3:] == ["page_failed", "tier_advanced", "paged"]
    sender.close()


def test_failed_page_of_an_old_tier_does_not_skip_ahead(
    rt: Runtime, world: World, clock: FrozenClock
) -> None:
    ref = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0]
    clock.advance(timedelta(seconds=600))
    advance_unacknowledged(rt)  # tier 2 now
    with rt.database.unit_of_work() as s:
        first = s.scalars(select(OutboxMessage).where(OutboxMessage.escalation_tier == 1)).one()
        first.status = "failed"
        escalations.page_undeliverable(s, first, clock.now())
    assert escalation(rt, ref.id).tier == 2
    assert pages(rt) == [(X1, 1), (X2, 2)]


@pytest.mark.parametrize("dialect_only", ["postgresql"])
def test_two_timer_runs_at_once_page_each_tier_once(
    rt: Runtime, world: World, clock: FrozenClock, dialect_only: str
) -> None:
    if rt.database.dialect != dialect_only:
        pytest.skip("SKIP LOCKED concurrency is a PostgreSQL property")
    import threading

    refs = [raise_for(rt, pid, phq9(SUICIDAL))[0] for pid in (world.patient_a, world.patient_b)]
    clock.advance(timedelta(seconds=600))
    barrier = threading.Barrier(4)
    moved: list[int] = []

    def run() -> None:
        barrier.wait()
        moved.append(advance_unacknowledged(rt))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(moved) == 2
    assert sorted(pages(rt)) == sorted([(X1, 1), (X1, 1), (X2, 2), (X2, 2)])
    assert {escalation(rt, r.id).tier for r in refs} == {2}


def test_scheduler_registers_the_timeout_job(rt: Runtime) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from schedules.jobs import ESCALATION_TIMEOUTS, register_jobs

    scheduler = BackgroundScheduler(timezone="UTC")
    register_jobs(scheduler, rt)
    assert scheduler.get_job(ESCALATION_TIMEOUTS) is not None
