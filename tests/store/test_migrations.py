"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from store import Database, migrate
from store.models import Base


def _diff(url: str) -> list[object]:
    database = Database(url)
    try:
        with database.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        database.dispose()


def test_sqlite_upgrade_matches_models_and_downgrades(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    migrate.upgrade(url)
    assert _diff(url) == []
    migrate.downgrade(url, "base")
    database = Database(url)
    try:
        assert set(inspect(database.engine).get_table_names()) <= {"alembic_version"}
    finally:
        database.dispose()
    migrate.upgrade(url)
    assert _diff(url) == []


PG_URL = os.environ.get("TEST_DATABASE_URL", "").strip()


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: set TEST_DATABASE_URL (CI does)")
def test_postgres_upgrade_matches_models() -> None:
    from tests.support.suite import reset_postgres

    url = PG_URL
    reset_postgres(url)
    try:
        migrate.upgrade(url)
        assert _diff(url) == []
    finally:
        # Leave the schema as the session fixture made it for the other tests.
        reset_postgres(url)
        database = Database(url)
        Base.metadata.create_all(database.engine)
        database.dispose()
