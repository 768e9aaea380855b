"""Shared fixtures in the style of Flask's tutorial: app, client, runner, and auth helpers.

The whole suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import text

from api.app import create_app
from config import Settings, load_settings
from notifications.log_sms import LogSmsSender
from services.passwords import use_hasher
from services.runtime import Runtime
from store import Database
from store.clock import FrozenClock
from store.models import Base
from tests.support.hashing import FAST_HASHER
from tests.support.world import World, build_world

PG_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
START = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)


def pytest_configure(config: pytest.Config) -> None:
    # Runtimes built without the fixtures below (create_app(settings), the fuzz harness)
    # hash cheaply too.
    use_hasher(FAST_HASHER)


def pytest_report_header() -> str:
    return f"database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite (per-test file)'}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the schema made once; each test gets a copy.

    The schema comes from the models; tests/store/test_migrations.py proves the
    migrations build the very same schema.
    """
    path = tmp_path_factory.mktemp("db") / "template.sqlite3"
    database = Database(f"sqlite:///{path}")
    Base.metadata.create_all(database.engine)
    database.dispose()
    return path


def reset_postgres(url: str) -> None:
    """Drop everything in the public schema."""
    database = Database(url)
    with database.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    database.dispose()


@pytest.fixture(scope="session")
def pg_migrated() -> str:
    """The PostgreSQL test database, wiped and given the schema once per session."""
    reset_postgres(PG_URL)
    database = Database(PG_URL)
    Base.metadata.create_all(database.engine)
    database.dispose()
    return PG_URL


def _truncate_all(database: Database) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if PG_URL:
        url: str = request.getfixturevalue("pg_migrated")
        return url
    template: Path = request.getfixturevalue("sqlite_template")
    target = tmp_path / "tandem.sqlite3"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    if database.dialect == "postgresql":
        _truncate_all(database)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        {
            "TANDEM_ENV": "test",
            "DATABASE_URL": database_url,
            "TANDEM_INSTANCE_PATH": str(tmp_path / "instance"),
            "SCHEDULER_ENABLED": "false",
        },
        dotenv_path=None,
    )


@pytest.fixture
def sms() -> LogSmsSender:
    return LogSmsSender()


@pytest.fixture
def rt(settings: Settings, database: Database, sms: LogSmsSender, clock: FrozenClock) -> Runtime:
    return Runtime.from_settings(
        settings, database=database, sms=sms, clock=clock, hasher=FAST_HASHER
    )


@pytest.fixture
def app(rt: Runtime) -> Flask:
    return create_app(rt=rt)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@dataclass
class Auth:
    """Logs users in through the API and hands out their headers."""

    client: FlaskClient
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)

    def login(self, username: str, password: str) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.get_json()
        body: dict[str, Any] = response.get_json()
        self.tokens[username] = body
        return body

    def headers(self, username: str, password: str | None = None) -> dict[str, str]:
        if username not in self.tokens:
            self.login(username, password or World.PASSWORD)
        return {"Authorization": f"Bearer {self.tokens[username]['access_token']}"}


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)


@pytest.fixture
def world(rt: Runtime) -> World:
    """Two clinics, an admin, clinicians in each, and two activated patients in clinic X."""
    return build_world(rt)


# --- issue 9: no PHI or secret in any log line of the whole run ------------------------------
# Every record any logger emits during the session is formatted (with its exception) and
# scanned; the session fails at its end if one holds a phone number, a name, a token, a code,
# a password or an answer. The one exempt line is the log SMS backend's message itself (the
# development "phone", refused in production): it prints the text a patient would receive.
LOG_LEAKS = {
    "phone number": re.compile(r"\d{3}\)?[-. ]?555[-. ]?01\d\d"),
    "token": re.compile(r"eyJ[\w-]{10,}\.[\w-]{10,}"),
    "password": re.compile(r"correct horse battery|wrong password|Patient-[0-9a-f]{16}"),
    "name": re.compile(r"Test Patient|Jordan Example|Alex Example"),
    "code": re.compile(r"(?i)\bcode\b\W{0,3}\d{6}\b"),
    "answers": re.compile(r"""(?i)['"]?answers['"]?\s*[:=]\s*\["""),
}


class LeakScanner(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.leaks: list[str] = []
        self.seen = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "tandem.sms" and record.getMessage().startswith("SMS LOG"):
            return
        try:
            line = self.format(record)
        except Exception:
            return
        self.seen += 1
        for kind, pattern in LOG_LEAKS.items():
            if pattern.search(line):
                self.leaks.append(f"{kind}: {line[:300]}")


@pytest.fixture(scope="session", autouse=True)
def log_leak_scan() -> Iterator[LeakScanner]:
    scanner = LeakScanner()
    root = logging.getLogger()
    root.addHandler(scanner)
    yield scanner
    root.removeHandler(scanner)
    assert not scanner.leaks, "log lines with PHI or secrets:\n" + "\n".join(scanner.leaks[:20])
