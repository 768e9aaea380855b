"""Fixtures for escalation tests: Twilio settings, a stand-in, and the SMS text guard."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer

from api.app import create_app
from config import Settings
from notifications.log_sms import LogSmsSender
from services.runtime import Runtime
from store import Database
from store.clock import FrozenClock
from tests.escalations.support import (
    AUTH_TOKEN,
    PUBLIC_BASE_URL,
    SEEN_BODIES,
    TwilioStandIn,
    assert_clean_sms,
)


@pytest.fixture
def twilio_settings(settings: Settings) -> Settings:
    """Settings with a Twilio auth token and a public URL (for webhook signatures)."""
    return settings.with_overrides(twilio_auth_token=AUTH_TOKEN, public_base_url=PUBLIC_BASE_URL)


@pytest.fixture
def rt(
    twilio_settings: Settings, database: Database, sms: LogSmsSender, clock: FrozenClock
) -> Runtime:
    return Runtime.from_settings(twilio_settings, database=database, sms=sms, clock=clock)


@pytest.fixture
def standin(httpserver: HTTPServer) -> TwilioStandIn:
    stand_in = TwilioStandIn(httpserver)
    stand_in.install()
    return stand_in


@pytest.fixture
def twilio_rt(
    twilio_settings: Settings, database: Database, clock: FrozenClock, standin: TwilioStandIn
) -> Iterator[Runtime]:
    """A runtime whose SMS go through the real Twilio SDK to the local stand-in."""
    sender = standin.sender()
    yield Runtime.from_settings(twilio_settings, database=database, sms=sender, clock=clock)
    sender.close()


@pytest.fixture
def twilio_app(twilio_rt: Runtime) -> Flask:
    return create_app(rt=twilio_rt)


@pytest.fixture
def twilio_client(twilio_app: Flask) -> FlaskClient:
    return twilio_app.test_client()


@pytest.fixture(autouse=True)
def _every_sms_is_clean(sms: LogSmsSender) -> Iterator[None]:
    """After each test: no SMS the test sent carries clinical content, a name or a number."""
    start = len(SEEN_BODIES)
    yield
    bodies = [body for _to, body in sms.sent] + SEEN_BODIES[start:]
    assert_clean_sms(bodies)
