"""Fault scenario for the README: self-reports refused for a bad field while reporting
suicidal thoughts. Expected: every such submission; delivered: its answer is evidence on a
suicidality escalation whose page the Twilio stand-in accepted; lost: the rest (must be 0).

Run with `-s` to print the tally.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt as pyjwt
from flask.testing import FlaskClient
from sqlalchemy import select

from services.runtime import Runtime
from store.escalations import Escalation, EscalationEvidence
from store.models import OutboxMessage
from tests.escalations.support import TwilioStandIn
from tests.support.selfreport import PHQ9_URL, REPORT_URL, answers_for, report_body
from tests.support.suite import Auth
from tests.support.world import World

PHONES = (World.pa_phone, World.pb_phone, World.pc_phone)


def _expired(token: str, secret: str) -> str:
    claims = pyjwt.decode(token, options={"verify_signature": False})
    past = datetime.now(UTC) - timedelta(hours=2)
    claims |= {"iat": past, "nbf": past, "exp": past + timedelta(minutes=15)}
    return pyjwt.encode(claims, secret, algorithm="HS256")


def _refusals(client: FlaskClient, token: str, rt: Runtime) -> list[tuple[str, Any]]:
    """Six ways to refuse a suicidal self-report; (reason, response)."""
    bearer = {"Authorization": f"Bearer {token}"}
    raw = {**bearer, "Content-Type": "application/json"}
    future = (rt.clock.now() + timedelta(days=1)).isoformat()
    return [
        (
            "half an emoji in the note",
            client.post(
                REPORT_URL,
                data=json.dumps(report_body(suicidal_thoughts=3, notes="\ud83d")),
                headers=raw,
            ),
        ),
        (
            "unknown field",
            client.post(
                PHQ9_URL, json={"answers": answers_for(14, item9=2), "mood": 1}, headers=bearer
            ),
        ),
        (
            "someone else's task",
            client.post(
                REPORT_URL, json=report_body(suicidal_thoughts=2, task_id=987_654), headers=bearer
            ),
        ),
        (
            "answered in the future",
            client.post(
                PHQ9_URL,
                json={"answers": answers_for(12, item9=3), "answered_at": future},
                headers=bearer,
            ),
        ),
        (
            "wrong content type",
            client.post(
                PHQ9_URL,
                data=json.dumps({"answers": answers_for(12, item9=2)}),
                headers={**bearer, "Content-Type": "text/plain"},
            ),
        ),
        (
            "expired token",
            client.post(
                REPORT_URL,
                json=report_body(suicidal_thoughts=2),
                headers={"Authorization": f"Bearer {_expired(token, rt.settings.jwt_secret_key)}"},
            ),
        ),
    ]


def test_refused_suicidal_self_reports_all_reach_a_phone(
    twilio_client: FlaskClient, twilio_rt: Runtime, world: World, standin: TwilioStandIn
) -> None:
    rt, client = twilio_rt, twilio_client
    rt.dispatcher.drain()  # the world's activation codes
    standin.received.clear()
    auth = Auth(client)
    expected = 0
    for phone in PHONES:
        token = auth.login(phone, World.PASSWORD)["access_token"]
        for reason, response in _refusals(client, token, rt):
            assert 400 <= response.status_code < 500, (reason, response.get_data(as_text=True))
            assert response.get_json().get("safety_signal_recorded") is True, reason
            expected += 1
    rt.dispatcher.drain()

    paged_bodies = [r.get("Body", "") for r in standin.received]
    with rt.database.session() as session:
        rows = session.execute(
            select(EscalationEvidence.escalation_id, Escalation.kind).join(
                Escalation, Escalation.id == EscalationEvidence.escalation_id
            )
        ).all()
        sent_for = {
            m.escalation_id
            for m in session.scalars(select(OutboxMessage).where(OutboxMessage.status == "sent"))
            if m.escalation_id is not None
        }
    delivered = sum(
        1
        for escalation_id, kind in rows
        if kind == "suicidality"
        and escalation_id in sent_for
        and any(f"Escalation {escalation_id}." in body for body in paged_bodies)
    )
    lost = expected - delivered
    print(f"\nrefused suicidal self-reports: expected={expected} delivered={delivered} lost={lost}")
    assert expected == 18
    assert lost == 0
