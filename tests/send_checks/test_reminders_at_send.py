"""Issue 15 item 12: a reminder is checked again when it is sent, not only when queued.

A reminder queued before quiet hours (then held up, e.g. by a Twilio outage) or before its
task was done must not reach the patient at 23:30 or for a finished task. The dispatcher asks
the reminder's pre-send check at send time; pages are never held back. Real flow: sessions,
reports and STOP through the API and the signed webhook, SMS through the real twilio SDK.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient
from sqlalchemy import select

from schedules import runs
from services.runtime import Runtime
from store.clock import FrozenClock
from store.models import OutboxMessage, SmsAttempt
from tests.escalations.support import SUICIDAL, TwilioStandIn
from tests.escalations.test_opt_out import text_in
from tests.schedule.support import record
from tests.support.selfreport import report_body
from tests.support.suite import Auth
from tests.support.world import World

NY = ZoneInfo("America/New_York")


def ny(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=NY).astimezone(UTC)


def _queued_reminder(client: FlaskClient, rt: Runtime, clock: FrozenClock) -> OutboxMessage:
    """A session at 17:00 New York; its report reminder queued at 19:00 but not yet sent."""
    rt.dispatcher.drain()  # the world's activation codes
    clock.set(ny(2, 17, 30))
    record(client, Auth(client).headers(World.cx1), _patient_a(rt), ny(2, 17))
    clock.set(ny(2, 19))
    assert runs.due_reminders(rt) >= 1
    [message] = _reminders(rt)
    assert message.status == "pending"
    return message


def _patient_a(rt: Runtime) -> int:
    from store.models import User

    with rt.database.unit_of_work() as s:
        user_id = s.scalar(select(User.id).where(User.phone == World.pa_phone))
        assert user_id is not None
        return user_id


def _reminders(rt: Runtime) -> list[OutboxMessage]:
    with rt.database.unit_of_work() as s:
        return list(
            s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.purpose == "reminder")
                .order_by(OutboxMessage.id)
            )
        )


def _attempts(rt: Runtime, message_id: int) -> list[tuple[str, str | None, str | None]]:
    with rt.database.unit_of_work() as s:
        return [
            (a.event, a.outcome, a.detail)
            for a in s.scalars(
                select(SmsAttempt)
                .where(SmsAttempt.message_id == message_id)
                .order_by(SmsAttempt.id)
            )
        ]


def test_a_reminder_delayed_into_quiet_hours_waits_for_the_morning(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    clock: FrozenClock,
    standin: TwilioStandIn,
) -> None:
    client, rt = twilio_client, twilio_rt
    message = _queued_reminder(client, rt, clock)
    standin.received.clear()
    clock.set(ny(2, 23, 30))  # Twilio was down until now: 23:30 at the patient's
    rt.dispatcher.drain()
    assert World.pa_phone not in standin.to_numbers()
    [held] = _reminders(rt)
    assert held.status == "pending"
    assert held.next_attempt_at == ny(3, 8)  # the end of quiet hours, patient's zone
    assert _attempts(rt, message.id)[-1][:2] == ("held", "deferred")
    assert "quiet_hours" in (_attempts(rt, message.id)[-1][2] or "")
    clock.set(ny(3, 7, 59))
    rt.dispatcher.drain()
    assert World.pa_phone not in standin.to_numbers()
    clock.set(ny(3, 8))
    rt.dispatcher.drain()
    assert standin.to_numbers().count(World.pa_phone) == 1


def test_a_reminder_for_a_task_done_meanwhile_is_cancelled(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    clock: FrozenClock,
    standin: TwilioStandIn,
) -> None:
    client, rt = twilio_client, twilio_rt
    message = _queued_reminder(client, rt, clock)
    tasks = client.get("/api/v1/me/tasks", headers=Auth(client).headers(World.pa_phone))
    [task] = [t for t in tasks.get_json() if t["kind"] == "symptom_report"]
    done = client.post(
        "/api/v1/symptom-reports",
        json=report_body(task_id=task["id"]),
        headers=Auth(client).headers(World.pa_phone),
    )
    assert done.status_code == 201, done.get_json()
    standin.received.clear()
    rt.dispatcher.drain()
    assert World.pa_phone not in standin.to_numbers()
    [cancelled] = _reminders(rt)
    assert cancelled.status == "cancelled"
    assert cancelled.last_error == "task_done"
    assert _attempts(rt, message.id)[-1][:2] == ("held", "cancelled")


def test_a_reminder_to_a_number_that_texted_stop_meanwhile_is_cancelled(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    clock: FrozenClock,
    standin: TwilioStandIn,
) -> None:
    client, rt = twilio_client, twilio_rt
    _queued_reminder(client, rt, clock)
    text_in(client, World.pa_phone, "STOP")
    standin.received.clear()
    rt.dispatcher.drain()
    assert standin.received == []
    [cancelled] = _reminders(rt)
    assert (cancelled.status, cancelled.last_error) == ("cancelled", "opted_out")


def test_a_reminder_for_an_expired_task_is_cancelled(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    clock: FrozenClock,
    standin: TwilioStandIn,
) -> None:
    client, rt = twilio_client, twilio_rt
    _queued_reminder(client, rt, clock)
    clock.set(ny(5, 12))  # the report's 48-hour window has closed
    standin.received.clear()
    rt.dispatcher.drain()
    assert standin.received == []
    [cancelled] = _reminders(rt)
    assert cancelled.status == "cancelled"
    assert cancelled.last_error in ("task_expired", "task_missed")


def test_pages_are_never_held_back_at_night(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    clock: FrozenClock,
    standin: TwilioStandIn,
) -> None:
    client, rt = twilio_client, twilio_rt
    rt.dispatcher.drain()
    standin.received.clear()
    clock.set(ny(2, 23, 30))
    response = client.post(
        "/api/v1/checkins/phq9",
        json={"answers": SUICIDAL},
        headers=Auth(client).headers(World.pa_phone),
    )
    assert response.status_code == 201
    rt.dispatcher.drain()
    assert standin.to_numbers() == ["+12025550101"]


def test_an_activation_code_superseded_or_expired_before_sending_is_not_sent(
    twilio_client: FlaskClient,
    twilio_rt: Runtime,
    world: World,
    clock: FrozenClock,
    standin: TwilioStandIn,
) -> None:
    """The same fault class: a queued activation SMS whose code no longer works."""
    client, rt = twilio_client, twilio_rt
    rt.dispatcher.drain()
    standin.received.clear()
    url = f"/api/v1/patients/{world.patient_b}/activation"
    headers = Auth(client).headers(World.cx1)
    assert client.post(url, headers=headers).status_code in (200, 202, 204)
    clock.advance(timedelta(minutes=1))
    assert client.post(url, headers=headers).status_code in (200, 202, 204)
    rt.dispatcher.drain()
    assert standin.to_numbers() == [World.pb_phone]  # only the code that still works
    clock.advance(timedelta(minutes=1))
    assert client.post(url, headers=headers).status_code in (200, 202, 204)
    clock.advance(timedelta(hours=25))  # an outage outlived the code
    rt.dispatcher.drain()
    assert standin.to_numbers() == [World.pb_phone]
    with rt.database.unit_of_work() as s:
        reasons = s.scalars(
            select(OutboxMessage.last_error)
            .where(OutboxMessage.purpose == "activation", OutboxMessage.status == "cancelled")
            .order_by(OutboxMessage.id)
        ).all()
    assert reasons == ["code_used_or_superseded", "code_expired"]
