"""raise_escalations: flags become escalations with evidence, a timeline and pages."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from clinical.rules import RULES_VERSION, Flag
from notifications.log_sms import LogSmsSender
from services.escalations import EscalationRef, clinic_rules
from services.runtime import Runtime
from store.escalations import Escalation, EscalationEvent, EscalationEvidence
from store.models import Clinic, OutboxMessage
from tests.escalations.support import ITEM9_ONE, ITEM9_SKIPPED, SUICIDAL, phq9, raise_for
from tests.support.world import World


def _pages(rt: Runtime) -> list[OutboxMessage]:
    with rt.database.unit_of_work() as s:
        return list(
            s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.purpose == "page")
                .order_by(OutboxMessage.id)
            )
        )


def _events(rt: Runtime, escalation_id: int) -> list[str]:
    with rt.database.unit_of_work() as s:
        return list(
            s.scalars(
                select(EscalationEvent.event)
                .where(EscalationEvent.escalation_id == escalation_id)
                .order_by(EscalationEvent.id)
            )
        )


def test_urgent_flag_creates_escalation_with_evidence_and_pages_tier_one(
    rt: Runtime, world: World, sms: LogSmsSender
) -> None:
    refs = raise_for(rt, world.patient_a, phq9(SUICIDAL))

    assert len(refs) == 1
    ref = refs[0]
    assert ref == EscalationRef(ref.id, "suicidality", "urgent")
    with rt.database.unit_of_work() as s:
        esc = s.get(Escalation, ref.id)
        assert esc is not None
        assert (esc.status, esc.tier, esc.cycle, esc.clinic_id) == ("open", 1, 1, world.clinic_x)
        assert esc.next_page_at == rt.clock.now() + timedelta(seconds=600)
        evidence = s.scalars(select(EscalationEvidence)).all()
        assert len(evidence) == 1
        assert evidence[0].rule == "phq9.item9>=2"
        assert evidence[0].rule_version == RULES_VERSION
        assert evidence[0].source_type == "phq9"
        assert evidence[0].detail["answers"] == SUICIDAL
    pages = _pages(rt)
    # Care team (x1) is also the tier-1 on-call: paged once.
    assert [(p.to_number, p.escalation_tier, p.recipient_id) for p in pages] == [
        ("+12025550101", 1, world.clinician_x1)
    ]
    assert pages[0].priority == 100
    assert pages[0].body == (
        f"Tandem: a patient needs attention (urgent priority). Escalation {ref.id}. "
        f"Reply ACK {ref.id} to acknowledge, or open the Tandem inbox."
    )
    assert _events(rt, ref.id) == ["created", "paged"]
    rt.dispatcher.drain()
    assert [m for m in sms.sent if "ACK" in m[1]] == [("+12025550101", pages[0].body)]


def test_routine_flag_goes_to_inbox_without_sms(rt: Runtime, world: World) -> None:
    refs = raise_for(rt, world.patient_a, phq9(ITEM9_SKIPPED))
    assert [(r.kind, r.priority) for r in refs] == [("safety_item_unanswered", "routine")]
    assert _pages(rt) == []
    assert _events(rt, refs[0].id) == ["created", "inbox_only"]
    with rt.database.unit_of_work() as s:
        esc = s.get(Escalation, refs[0].id)
        assert esc is not None and esc.next_page_at is None


def test_same_kind_same_priority_merges_without_new_page(rt: Runtime, world: World) -> None:
    first = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0]
    second = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0]
    assert second.id == first.id
    assert len(_pages(rt)) == 1
    with rt.database.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(EscalationEvidence)) == 2
        assert s.scalar(select(func.count()).select_from(Escalation)) == 1
    assert _events(rt, first.id)[-1] == "evidence_added"


def test_lower_priority_merges_without_page(rt: Runtime, world: World) -> None:
    first = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0]
    second = raise_for(rt, world.patient_a, phq9(ITEM9_ONE))[0]
    assert second == first
    assert len(_pages(rt)) == 1


def test_raised_priority_pages_again_from_tier_one(rt: Runtime, world: World) -> None:
    high = raise_for(rt, world.patient_a, phq9(ITEM9_ONE))[0]
    assert high.priority == "high"
    assert len(_pages(rt)) == 1
    urgent = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0]
    assert (urgent.id, urgent.priority) == (high.id, "urgent")
    pages = _pages(rt)
    assert [(p.to_number, p.escalation_tier) for p in pages] == [
        ("+12025550101", 1),
        ("+12025550101", 1),
    ]
    assert "urgent" in pages[1].body
    assert "priority_raised" in _events(rt, high.id)


def test_acknowledged_escalation_reopens_when_priority_rises(rt: Runtime, world: World) -> None:
    from services.escalations import acknowledge
    from store.models import User

    high = raise_for(rt, world.patient_a, phq9(ITEM9_ONE))[0]
    with rt.database.unit_of_work() as s:
        viewer = s.get(User, world.clinician_x1)
        assert viewer is not None
        acknowledge(s, viewer=viewer, escalation_id=high.id, now=rt.clock.now())
    raise_for(rt, world.patient_a, phq9(ITEM9_ONE))  # same priority: stays acknowledged
    with rt.database.unit_of_work() as s:
        esc = s.get(Escalation, high.id)
        assert esc is not None and esc.status == "acknowledged"
    raise_for(rt, world.patient_a, phq9(SUICIDAL))
    with rt.database.unit_of_work() as s:
        esc = s.get(Escalation, high.id)
        assert esc is not None
        assert (esc.status, esc.priority, esc.acknowledged_by) == ("open", "urgent", None)
    assert len(_pages(rt)) == 2


def test_resolved_escalation_is_not_merged_into(rt: Runtime, world: World) -> None:
    from services.escalations import resolve
    from store.models import User

    first = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0]
    with rt.database.unit_of_work() as s:
        viewer = s.get(User, world.clinician_x1)
        assert viewer is not None
        resolve(s, viewer=viewer, escalation_id=first.id, note="Called; safe.", now=rt.clock.now())
    second = raise_for(rt, world.patient_a, phq9(SUICIDAL))[0]
    assert second.id != first.id


def test_several_kinds_each_get_an_escalation_highest_first(rt: Runtime, world: World) -> None:
    flags = [
        Flag("worsening", "routine", "phq9.rise>=5", {"total": 1}),
        Flag("adverse_event", "urgent", "report.seizure", {"seizure": True}),
        Flag("mania", "high", "asrm.total>=6", {"total": 9}),
        Flag("mania", "urgent", "asrm.total>=6&bipolar", {"total": 9}),
    ]
    refs = raise_for(rt, world.patient_b, flags, source_type="symptom_report")
    assert [(r.kind, r.priority) for r in refs] == [
        ("mania", "urgent"),
        ("adverse_event", "urgent"),
        ("worsening", "routine"),
    ] or [(r.kind, r.priority) for r in refs] == [
        ("adverse_event", "urgent"),
        ("mania", "urgent"),
        ("worsening", "routine"),
    ]
    assert len(_pages(rt)) == 2


def test_no_flags_no_escalation(rt: Runtime, world: World) -> None:
    assert raise_for(rt, world.patient_a, []) == []


def test_clinic_rules_override_defaults(rt: Runtime, world: World) -> None:
    with rt.database.unit_of_work() as s:
        clinic = s.get(Clinic, world.clinic_x)
        assert clinic is not None
        assert clinic_rules(clinic).item9_urgent == 2
        clinic.escalation_rules = {"item9_urgent": 1, "systolic_limit": 170}
        rules = clinic_rules(clinic)
        assert (rules.item9_urgent, rules.systolic_limit, rules.asrm_cutoff) == (1, 170, 6)
        clinic.escalation_rules = {"item9_urgent": 99}
        assert clinic_rules(clinic).item9_urgent == 2  # unusable settings fall back
