"""Crisis resources reach the patient even when Twilio is failing; the page is kept for retry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from api.app import create_app
from clinical.crisis import CRISIS_RESOURCES
from config import Settings
from notifications.twilio_sms import TwilioSmsSender
from services.runtime import Runtime
from store import Database
from store.clock import FrozenClock
from store.models import OutboxMessage
from tests.support.selfreport import PHQ9_URL, REPORT_URL, report_body
from tests.support.suite import Auth
from tests.support.world import World, build_world


@pytest.fixture
def down_rt(
    settings: Settings, database: Database, clock: FrozenClock, httpserver: HTTPServer
) -> Iterator[Runtime]:
    """A runtime whose SMS go through the real Twilio SDK to a server answering 503."""
    httpserver.expect_request(
        "/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json"
    ).respond_with_json(
        {"code": 20503, "message": "Service unavailable", "status": 503}, status=503
    )
    sender = TwilioSmsSender(
        account_sid="AC" + "0" * 32,
        auth_token="test-token",
        from_number="+12025550199",
        api_base_url=httpserver.url_for("").rstrip("/"),
        timeout=5,
    )
    yield Runtime.from_settings(settings, database=database, sms=sender, clock=clock)


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (PHQ9_URL, {"answers": [0, 0, 0, 0, 0, 0, 0, 0, 3]}),
        (REPORT_URL, report_body(suicidal_thoughts=3)),
    ],
)
def test_crisis_resources_with_twilio_down(
    down_rt: Runtime, url: str, body: dict[str, object]
) -> None:
    world = build_world(down_rt)
    client: FlaskClient = create_app(rt=down_rt).test_client()
    headers = Auth(client).headers(World.pa_phone)
    response = client.post(url, json=body, headers=headers)
    assert response.status_code == 201
    assert response.get_json()["crisis_resources"] == CRISIS_RESOURCES
    assert response.get_json()["escalation"]["priority"] == "urgent"

    down_rt.dispatcher.run_once()
    with down_rt.database.session() as session:
        pages = session.scalars(
            select(OutboxMessage).where(OutboxMessage.escalation_id.is_not(None))
        ).all()
        assert pages, "the urgent escalation queued a page"
        assert all(page.status != "sent" and page.attempts >= 1 for page in pages)
        assert {page.recipient_id for page in pages} == {world.clinician_x1}
