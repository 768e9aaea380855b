"""Fixtures of the boundary tests: the escalation tests' Twilio settings and SMS guard, an app
whose database is gone, and a way to kill a request's own PostgreSQL connection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_jwt_extended import create_access_token
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from config import Settings
from notifications.log_sms import LogSmsSender
from services.runtime import Runtime
from store import Database
from store.clock import FrozenClock
from tests.conftest import PG_URL
from tests.escalations.conftest import (  # noqa: F401
    _every_sms_is_clean,
    rt,
    standin,
    twilio_app,
    twilio_client,
    twilio_rt,
    twilio_settings,
)


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


def patient_token(app: Flask) -> str:
    with app.app_context():
        token: str = create_access_token(
            identity="5", additional_claims={"role": "patient", "clinic_id": 1, "sid": "s"}
        )
    return token


@pytest.fixture
def killer() -> Iterator[Engine]:
    engine = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
    yield engine
    engine.dispose()


def kill_on(database: Database, killer: Engine, marker: str) -> None:
    """Terminate the request's own PostgreSQL backend when it is about to run `marker`."""
    fired: list[bool] = []

    @event.listens_for(database.engine, "before_cursor_execute")
    def _kill(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if fired or marker not in statement:
            return
        fired.append(True)
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with killer.begin() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
