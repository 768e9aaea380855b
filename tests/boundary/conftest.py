"""Fixtures of the boundary tests: the escalation tests' Twilio settings and SMS guard, an app
whose database is gone, and a way to kill a request's own PostgreSQL connection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from config import Settings
from notifications.log_sms import LogSmsSender
from services.runtime import Runtime
from store import Database
from store.clock import FrozenClock
from tests.escalations.conftest import (  # noqa: F401
    _every_sms_is_clean,
    rt,
    standin,
    twilio_app,
    twilio_client,
    twilio_rt,
    twilio_settings,
)
from tests.support.boundary import (
    kill_on,  # noqa: F401
    patient_token,  # noqa: F401
)
from tests.support.suite import PG_URL


@pytest.fixture
def dead_app(settings: Settings, tmp_path: Path, clock: FrozenClock) -> Iterator[Flask]:
    """The app pointed at a database that cannot be reached or opened."""
    # Nothing listens on port 1; SQLite cannot open a directory where its file should be.
    url = "postgresql://postgres@127.0.0.1:1/tandem_nowhere" if PG_URL else f"sqlite:///{tmp_path}"
    database = Database(url)
    dead = Runtime.from_settings(
        settings.with_overrides(database_url=url),
        database=database,
        sms=LogSmsSender(),
        clock=clock,
    )
    from api.app import create_app

    yield create_app(rt=dead)
    database.dispose()


@pytest.fixture
def killer() -> Iterator[Engine]:
    engine = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
    yield engine
    engine.dispose()
