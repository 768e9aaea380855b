"""`tandem demo` demonstrates: work due now, sessions ahead, every priority open, no texts."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from notifications.log_sms import LogSmsSender
from notifications.outbox import CANCELLED, DEMO_SUPPRESSED, enqueue_sms
from schedules import runs
from schedules.escalations import advance_unacknowledged
from services import clinics, demo
from services.errors import Forbidden
from services.runtime import Runtime
from store.clock import FrozenClock
from store.escalations import Escalation
from store.models import Clinic, OutboxMessage, PatientProfile, SmsAttempt, User
from store.reports import Phq9Checkin
from store.schedule import Task, TreatmentSession

LOGIN = re.compile(r"^\s+(admin|clinician \(tier \d\)|patient)\s+(\S+)\s+(\S+)$")


def _logins(lines: list[str]) -> list[tuple[str, str, str]]:
    return [m.groups() for line in lines if (m := LOGIN.match(line))]  # type: ignore[misc]


def _token(client: FlaskClient, username: str, password: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, (username, response.get_json())
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def _counts(rt: Runtime) -> dict[str, int]:
    with rt.database.session() as s:
        return {
            model.__tablename__: s.scalar(select(func.count()).select_from(model)) or 0
            for model in (
                Clinic,
                User,
                PatientProfile,
                TreatmentSession,
                Phq9Checkin,
                Task,
                Escalation,
                OutboxMessage,
            )
        }


def test_run_twice_is_the_same_demo_with_the_same_logins(rt: Runtime, client: FlaskClient) -> None:
    first = list(demo.seed(rt))
    counts = _counts(rt)
    second = list(demo.seed(rt))
    assert _counts(rt) == counts
    assert "exists already" in second[0] and "nothing was changed" in second[0]
    assert _logins(first) == _logins(second)
    assert len(_logins(first)) == 6
    # Every printed login works, and each is followed by what to try with it.
    for _role, username, password in _logins(second):
        _token(client, username, password)
        following = second[second.index(next(x for x in second if username in x)) + 1]
        assert following.strip().startswith("try: ")
    assert {p for _, _, p in _logins(first)} == set(demo.PASSWORDS.values())


def test_each_patient_has_tasks_due_now_and_a_session_ahead(
    rt: Runtime, client: FlaskClient
) -> None:
    logins = _logins(list(demo.seed(rt)))
    now = rt.clock.now()
    for _, phone, password in (x for x in logins if x[0] == "patient"):
        headers = _token(client, phone, password)
        tasks = client.get("/api/v1/me/tasks", headers=headers).get_json()
        kinds = {task["kind"] for task in tasks}
        assert "phq9" in kinds, (phone, tasks)
        me = client.get("/api/v1/me", headers=headers).get_json()
        assert me["phase"] == "maintenance"
        next_session = datetime.fromisoformat(me["next_session"]["due_at"])
        assert now < next_session < now + timedelta(days=3), me["next_session"]


def test_the_inbox_has_open_escalations_of_every_priority(rt: Runtime, client: FlaskClient) -> None:
    logins = _logins(list(demo.seed(rt)))
    clinician = next(x for x in logins if x[0] == "clinician (tier 1)")
    inbox = client.get(
        "/api/v1/escalations?status=open", headers=_token(client, clinician[1], clinician[2])
    ).get_json()
    assert {e["priority"] for e in inbox["items"]} == {"urgent", "high", "routine"}


def test_the_demo_texts_nobody_but_other_clinics_still_do(
    rt: Runtime, sms: LogSmsSender, clock: FrozenClock
) -> None:
    list(demo.seed(rt))
    with rt.database.unit_of_work() as s:
        other = clinics.create_clinic(
            s, actor=None, name="Real", timezone="UTC", policy=None, now=clock.now()
        )
        doctor = clinics.create_staff(
            s,
            actor=None,
            role="clinician",
            name="Dr Real",
            email="real@clinic.example",
            phone="+14155550177",
            password="correct horse battery",
            clinic_id=other.id,
            on_call_tier=1,
            now=clock.now(),
        )
        enqueue_sms(
            s,
            to="+14155550177",
            body="Tandem: hello",
            purpose="page",
            now=clock.now(),
            recipient_id=doctor.id,
        )
    # The activation texts and pages the demo queued, then an hour of timers: reminders
    # fall due and unacknowledged escalations climb their tiers.
    for _ in range(6):
        clock.advance(timedelta(minutes=11))
        runs.due_reminders(rt)
        advance_unacknowledged(rt)
        rt.dispatcher.drain()
    assert list(sms.sent) == [("+14155550177", "Tandem: hello")]
    with rt.database.session() as s:
        demo_rows = s.scalars(
            select(OutboxMessage).where(OutboxMessage.to_number != "+14155550177")
        ).all()
        # A later tier's call may still wait for its time; everything due was dealt with.
        later = [row for row in demo_rows if row.status == "pending"]
        assert all(row.next_attempt_at > clock.now() for row in later)
        demo_rows = [row for row in demo_rows if row not in later]
        purposes = {row.purpose for row in demo_rows}
        assert {"activation", "page", "page_voice", "reminder"} <= purposes, purposes
        assert {(row.status, row.last_error, row.sent_at) for row in demo_rows} == {
            (CANCELLED, DEMO_SUPPRESSED, None)
        }
        attempts = s.scalars(
            select(SmsAttempt).where(SmsAttempt.message_id.in_([r.id for r in demo_rows]))
        ).all()
        assert len(attempts) == len(demo_rows)
        assert {(a.event, a.outcome) for a in attempts} == {("held", "cancelled")}


def test_the_demo_refuses_production(rt: Runtime) -> None:
    production = Runtime.from_settings(
        rt.settings.with_overrides(env="production"),
        database=rt.database,
        sms=rt.sms,
        clock=rt.clock,
    )
    with pytest.raises(Forbidden, match="production"):
        list(demo.seed(production))
    assert _counts(rt)["clinics"] == 0
