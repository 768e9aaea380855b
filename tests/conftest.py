"""Shared fixtures in the style of Flask's tutorial: app, client, runner, and auth helpers.

The whole suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from api.app import create_app
from config import Settings, load_settings
from notifications.log_sms import LogSmsSender
from services.passwords import use_hasher
from services.runtime import Runtime
from store import Database
from store.clock import FrozenClock
from store.models import Base
from tests.support.hashing import FAST_HASHER
from tests.support.suite import (
    LOG_LEAKS,  # noqa: F401
    PG_URL,
    START,
    Auth,
    LeakScanner,
    reset_postgres,
    truncate_all,
)
from tests.support.world import World, build_world


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


@pytest.fixture(scope="session")
def pg_migrated() -> str:
    """The PostgreSQL test database, wiped and given the schema once per session."""
    reset_postgres(PG_URL)
    database = Database(PG_URL)
    Base.metadata.create_all(database.engine)
    database.dispose()
    return PG_URL


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
        truncate_all(database)
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


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)


@pytest.fixture
def world(rt: Runtime) -> World:
    """Two clinics, an admin, clinicians in each, and two activated patients in clinic X."""
    return build_world(rt)


@pytest.fixture(scope="session", autouse=True)
def log_leak_scan() -> Iterator[LeakScanner]:
    scanner = LeakScanner()
    root = logging.getLogger()
    root.addHandler(scanner)
    yield scanner
    root.removeHandler(scanner)
    assert not scanner.leaks, "log lines with PHI or secrets:\n" + "\n".join(scanner.leaks[:20])
