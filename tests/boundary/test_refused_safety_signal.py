"""A refused self-report that reported suicidal thoughts still reaches a clinician.

Issue 15 item 2: whatever refuses the submission (a bad field, half an emoji, a task that is
not the patient's, an expired token, a failed store), its readable item 9 or
`suicidal_thoughts` answer is recorded on a suicidality escalation, paged per the rules, and
the problem document says `"safety_signal_recorded": true`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt as pyjwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from services.runtime import Runtime
from store.escalations import Escalation, EscalationEvidence
from store.models import Base, OutboxMessage
from store.reports import Phq9Checkin, SymptomReportRecord
from tests.support.boundary import kill_on, patient_token
from tests.support.selfreport import PHQ9_URL, REPORT_URL, answers_for, report_body
from tests.support.suite import PG_URL, Auth
from tests.support.world import World


def _escalations(rt: Runtime, patient_id: int) -> list[tuple[str, str, int]]:
    """(kind, priority, evidence rows) of the patient's escalations."""
    with rt.database.session() as session:
        rows = session.scalars(select(Escalation).where(Escalation.patient_id == patient_id))
        result = []
        for esc in rows:
            evidence = session.scalars(
                select(EscalationEvidence).where(EscalationEvidence.escalation_id == esc.id)
            ).all()
            result.append((esc.kind, esc.priority, len(evidence)))
        return result


def _evidence(rt: Runtime, patient_id: int) -> list[dict[str, Any]]:
    with rt.database.session() as session:
        return [
            {"rule": e.rule, "evidence": dict(e.detail)}
            for e in session.scalars(
                select(EscalationEvidence)
                .join(Escalation, Escalation.id == EscalationEvidence.escalation_id)
                .where(Escalation.patient_id == patient_id)
            )
        ]


def _pages(rt: Runtime) -> int:
    with rt.database.session() as session:
        return len(
            session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.escalation_id.is_not(None))
            ).all()
        )


def _stored(rt: Runtime) -> int:
    with rt.database.session() as session:
        return len(session.scalars(select(Phq9Checkin.id)).all()) + len(
            session.scalars(select(SymptomReportRecord.id)).all()
        )


def _recorded(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert "988" in str(body.get("crisis_resources"))
    assert body.get("safety_signal_recorded") is True, body
    return body


def test_half_an_emoji_in_the_note_of_a_suicidal_report(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime
) -> None:
    headers = auth.headers(World.pa_phone)
    body = json.dumps(report_body(suicidal_thoughts=2, notes="I can't \ud83d"))
    response = client.post(
        REPORT_URL, data=body, headers={**headers, "Content-Type": "application/json"}
    )
    _recorded(response, 422)
    assert _stored(rt) == 0
    assert _escalations(rt, world.patient_a) == [("suicidality", "urgent", 1)]
    evidence = _evidence(rt, world.patient_a)[0]
    assert evidence["evidence"]["refused"] is True
    assert evidence["evidence"]["suicidal_thoughts"] == 2
    assert "notes" not in json.dumps(evidence)  # only the readable answers, never the text
    assert _pages(rt) > 0  # urgent: paged at once


@pytest.mark.parametrize(
    ("answers", "priority"),
    [(answers_for(10, item9=1), "high"), (answers_for(21, item9=1), "urgent")],
)
def test_a_phq9_refused_for_an_unknown_field(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, answers: list[int], priority: str
) -> None:
    response = client.post(
        PHQ9_URL,
        json={"answers": answers, "unexpected": True},
        headers=auth.headers(World.pa_phone),
    )
    _recorded(response, 422)
    assert _escalations(rt, world.patient_a) == [("suicidality", priority, 1)]


def test_a_report_naming_someone_elses_task_is_404_and_recorded(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime
) -> None:
    response = client.post(
        REPORT_URL,
        json=report_body(suicidal_thoughts=1, task_id=999_999),
        headers=auth.headers(World.pa_phone),
    )
    _recorded(response, 404)
    assert _escalations(rt, world.patient_a) == [("suicidality", "high", 1)]


def test_retries_of_a_refused_report_add_evidence_to_one_escalation(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime
) -> None:
    headers = auth.headers(World.pa_phone)
    for _ in range(3):
        _recorded(
            client.post(
                PHQ9_URL, json={"answers": answers_for(9, item9=3), "x": 1}, headers=headers
            ),
            422,
        )
    assert _escalations(rt, world.patient_a) == [("suicidality", "urgent", 3)]


def test_an_expired_token_of_the_patient_is_attributed(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime
) -> None:
    token = auth.login(World.pa_phone, World.PASSWORD)["access_token"]
    claims = pyjwt.decode(token, options={"verify_signature": False})
    past = datetime.now(UTC) - timedelta(hours=2)
    claims |= {"iat": past, "nbf": past, "exp": past + timedelta(minutes=15)}
    expired = pyjwt.encode(claims, rt.settings.jwt_secret_key, algorithm="HS256")
    response = client.post(
        PHQ9_URL,
        json={"answers": answers_for(12, item9=2)},
        headers={"Authorization": f"Bearer {expired}"},
    )
    _recorded(response, 401)
    assert _stored(rt) == 0
    assert _escalations(rt, world.patient_a) == [("suicidality", "urgent", 1)]


@pytest.mark.parametrize("who", ["forged", "none", "clinician", "disabled"])
def test_no_patient_identity_records_nothing(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, who: str
) -> None:
    headers: dict[str, str] = {}
    if who == "forged":
        token = auth.login(World.pa_phone, World.PASSWORD)["access_token"]
        claims = pyjwt.decode(token, options={"verify_signature": False})
        headers = {"Authorization": "Bearer " + pyjwt.encode(claims, "x" * 40, algorithm="HS256")}
    elif who == "clinician":
        headers = auth.headers(World.cx1)
    elif who == "disabled":
        headers = auth.headers(World.pa_phone)
        from store.models import User

        with rt.database.unit_of_work() as session:
            user = session.get(User, world.patient_a)
            assert user is not None
            user.is_active = False
    response = client.post(PHQ9_URL, json={"answers": answers_for(12, item9=2)}, headers=headers)
    assert response.status_code in (401, 403)
    body = response.get_json()
    assert "988" in str(body.get("crisis_resources"))
    assert "safety_signal_recorded" not in body
    with rt.database.session() as session:
        assert session.scalars(select(Escalation.id)).all() == []


def test_a_refusal_without_a_suicidality_answer_records_nothing(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime
) -> None:
    response = client.post(
        PHQ9_URL,
        json={"answers": answers_for(20, item9=0), "x": 1},
        headers=auth.headers(World.pa_phone),
    )
    assert response.status_code == 422
    assert "safety_signal_recorded" not in response.get_json()
    assert _escalations(rt, world.patient_a) == []


def test_a_failed_store_still_records_the_signal(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime
) -> None:
    """The submission's own transaction fails (its table is gone): a fresh one records."""
    headers = auth.headers(World.pa_phone)
    cascade = " CASCADE" if rt.database.dialect == "postgresql" else ""
    with rt.database.engine.begin() as conn:
        conn.execute(text(f"DROP TABLE phq9_checkins{cascade}"))
    try:
        response = client.post(
            PHQ9_URL, json={"answers": answers_for(12, item9=2)}, headers=headers
        )
        _recorded(response, 500)
        assert _escalations(rt, world.patient_a) == [("suicidality", "urgent", 1)]
    finally:
        if rt.database.dialect == "postgresql":
            Base.metadata.tables["phq9_checkins"].create(rt.database.engine)


@pytest.mark.skipif(not PG_URL, reason="pg_terminate_backend needs PostgreSQL")
def test_a_connection_killed_mid_submission_still_records_the_signal(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime, killer: Engine
) -> None:
    headers = auth.headers(World.pa_phone)
    kill_on(rt.database, killer, "INSERT INTO phq9_checkins")
    response = client.post(PHQ9_URL, json={"answers": answers_for(12, item9=2)}, headers=headers)
    _recorded(response, 503)
    assert _stored(rt) == 0
    assert _escalations(rt, world.patient_a) == [("suicidality", "urgent", 1)]


def test_with_the_database_gone_the_refusal_stands_and_nothing_raises(
    dead_app: Flask,
) -> None:

    bearer = {"Authorization": f"Bearer {patient_token(dead_app)}"}
    response = dead_app.test_client().post(
        PHQ9_URL, json={"answers": answers_for(12, item9=2)}, headers=bearer
    )
    assert response.status_code == 503
    body = response.get_json()
    assert "988" in str(body["crisis_resources"])
    assert "safety_signal_recorded" not in body


def test_a_refused_item9_re_ask_is_recorded_as_a_phq9_answer(
    client: FlaskClient, auth: Auth, world: World, rt: Runtime
) -> None:
    """The one-question re-ask (rules-2) is a PHQ-9 answer: refused, it still pages."""
    response = client.post(
        "/api/v1/checkins/phq9-item9",
        json={"item9": 2, "task_id": 999_999, "unexpected": True},
        headers=auth.headers(World.pa_phone),
    )
    _recorded(response, 422)
    assert _escalations(rt, world.patient_a) == [("suicidality", "urgent", 1)]
    [evidence] = _evidence(rt, world.patient_a)
    assert evidence["evidence"]["instrument"] == "PHQ-9"
    assert evidence["evidence"]["item9"] == 2
    with rt.database.session() as session:
        sources = session.scalars(select(EscalationEvidence.source_type)).all()
    assert sources == ["phq9"]
