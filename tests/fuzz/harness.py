"""A long-lived app and database for the whole-API suites (fuzzing, injection, security).

The per-test ``world`` fixture gives each test a fresh database; fuzzing thousands of cases
needs one app and one database for a whole module instead. This module builds them, mints
tokens for each role without going through the (rate-limited) login, and reads the served
OpenAPI document, so every suite picks up new endpoints without being edited.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import text

from api.app import create_app
from config import load_settings
from notifications.log_sms import LogSmsSender
from services.auth import start_session
from services.runtime import Runtime
from store import Database
from store.clock import FrozenClock
from store.models import Base, User
from tests.support.world import World, build_world

PG_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
START = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
HTTP_METHODS = ("get", "put", "post", "patch", "delete")


def served_openapi() -> dict[str, Any]:
    """The OpenAPI document the app serves, from an app that never touches a database."""
    instance = Path(tempfile.gettempdir()) / "tandem-spec"
    settings = load_settings(
        {
            "TANDEM_ENV": "test",
            "DATABASE_URL": "sqlite://",
            "SCHEDULER_ENABLED": "false",
            "TANDEM_INSTANCE_PATH": str(instance),
        },
        dotenv_path=None,
    )
    rt = Runtime.from_settings(settings, sms=LogSmsSender(), clock=FrozenClock(START))
    app = create_app(rt=rt)
    spec: dict[str, Any] = app.test_client().get("/openapi.json").get_json()
    rt.database.dispose()
    return spec


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path, operation) for every operation in the document."""
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def truncate_all(database: Database) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@dataclass
class LiveApi:
    """One app over one database with a built world, for a module of tests."""

    app: Flask
    rt: Runtime
    world: World
    sms: LogSmsSender
    clock: FrozenClock
    users: dict[str, int] = field(default_factory=dict)

    def mint(self, who: str, *, refresh: bool = False) -> dict[str, str]:
        """A fresh login session for ``who`` (a key of ``users``); its bearer header."""
        user_id = self.users[who]
        with self.app.app_context(), self.rt.database.unit_of_work() as session:
            user = session.get(User, user_id)
            assert user is not None
            login = start_session(
                session, user=user, now=self.clock.now(), lifetime=timedelta(days=1)
            )
            claims = {"role": user.role, "clinic_id": user.clinic_id, "sid": login.session_id}
            maker = create_refresh_token if refresh else create_access_token
            token = maker(
                identity=str(user_id), additional_claims=claims, expires_delta=timedelta(hours=1)
            )
        return {"Authorization": f"Bearer {token}"}


def build_live_api(database_url: str, instance: Path) -> LiveApi:
    """A world in a (new or wiped) database, and an app over it."""
    database = Database(database_url)
    if database.dialect == "postgresql":
        truncate_all(database)
    else:
        Base.metadata.create_all(database.engine)
    settings = load_settings(
        {
            "TANDEM_ENV": "test",
            "DATABASE_URL": database_url,
            "TANDEM_INSTANCE_PATH": str(instance),
            "SCHEDULER_ENABLED": "false",
        },
        dotenv_path=None,
    )
    sms = LogSmsSender()
    clock = FrozenClock(START)
    rt = Runtime.from_settings(settings, database=database, sms=sms, clock=clock)
    world = build_world(rt)
    app = create_app(rt=rt)
    users = {
        "admin": world.admin_id,
        "clinician_x": world.clinician_x1,
        "clinician_y": world.clinician_y1,
        "patient_a": world.patient_a,
        "patient_b": world.patient_b,
        "patient_c_y": world.patient_c_y,
    }
    return LiveApi(app=app, rt=rt, world=world, sms=sms, clock=clock, users=users)
