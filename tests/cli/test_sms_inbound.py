"""`tandem sms inbound`: try ACK, STOP, START and HELP locally through the real webhook path."""

from __future__ import annotations

import logging

import pytest
from click.testing import Result
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from api.cli import cli
from clinical.rules import Flag
from notifications import texts
from services.escalations import raise_escalations
from services.runtime import Runtime
from store.escalations import Escalation, EscalationEvent
from store.models import AuditEvent, PatientProfile, User
from tests.support.world import World


def inbound(runner: FlaskCliRunner, phone: str, body: str) -> Result:
    return runner.invoke(cli, ["sms", "inbound", "--from", phone, "--body", body])


def _escalation(rt: Runtime, world: World, *, priority: str = "urgent") -> int:
    flag = Flag(kind="suicidality", priority=priority, rule="test", evidence={"item9": 2})
    with rt.database.unit_of_work() as session:
        profile = session.get(PatientProfile, world.patient_a)
        assert profile is not None
        refs = raise_escalations(
            session,
            patient=profile,
            flags=[flag],
            source_type="phq9",
            source_id=None,
            now=rt.clock.now(),
        )
    return refs[0].id


def test_ack_from_a_clinician_acknowledges_through_the_webhook(
    runner: FlaskCliRunner, rt: Runtime, world: World
) -> None:
    escalation_id = _escalation(rt, world)
    with rt.database.session() as session:
        phone = session.get_one(User, world.clinician_x1).phone
    assert phone is not None
    result = inbound(runner, phone, f"ACK {escalation_id}")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("reply: ")
    with rt.database.session() as session:
        escalation = session.get_one(Escalation, escalation_id)
        assert escalation.status == "acknowledged"
        assert escalation.acknowledged_by == world.clinician_x1
        via = session.scalars(
            select(EscalationEvent.detail).where(
                EscalationEvent.escalation_id == escalation_id,
                EscalationEvent.event == "acknowledged",
            )
        ).one()
        assert via["via"] == "sms"


def test_stop_then_start_from_a_patient_changes_consent(
    runner: FlaskCliRunner, rt: Runtime, world: World
) -> None:
    stop = inbound(runner, World.pa_phone, "stop")
    assert stop.exit_code == 0, stop.output
    with rt.database.session() as session:
        assert session.get_one(User, world.patient_a).sms_opted_out is True
    start = inbound(runner, World.pa_phone, "START")
    assert start.exit_code == 0, start.output
    with rt.database.session() as session:
        assert session.get_one(User, world.patient_a).sms_opted_out is False
        assert session.scalars(select(AuditEvent.action)).all()


def test_help_prints_the_help_reply(runner: FlaskCliRunner, world: World) -> None:
    result = inbound(runner, World.pa_phone, "HELP")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"reply: {texts.sms_help()}"


def test_an_ack_from_a_stranger_acknowledges_nothing(
    runner: FlaskCliRunner, rt: Runtime, world: World
) -> None:
    escalation_id = _escalation(rt, world)
    result = inbound(runner, "+12025550199", f"ACK {escalation_id}")
    assert result.exit_code == 0, result.output
    with rt.database.session() as session:
        assert session.get_one(Escalation, escalation_id).status == "open"


@pytest.mark.parametrize("phone", ["12", "not a phone", "+1"])
def test_a_bad_sender_is_a_usage_error(runner: FlaskCliRunner, world: World, phone: str) -> None:
    result = inbound(runner, phone, "HELP")
    assert result.exit_code == 2
    assert "E.164" in result.output


def test_what_it_queues_is_sent_at_once_to_the_log(
    runner: FlaskCliRunner, rt: Runtime, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    _escalation(rt, world)  # queues pages
    caplog.set_level(logging.INFO)
    result = inbound(runner, World.pa_phone, "HELP")
    assert result.exit_code == 0, result.output
    assert "queued SMS" in result.output
    assert rt.dispatcher.pending_ids() == []
