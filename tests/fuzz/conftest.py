"""A module-scoped live API for the fuzzing suite (SQLite file, or the PostgreSQL test DB)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.fuzz.harness import PG_URL, LiveApi, build_live_api


@pytest.fixture(scope="module")
def live_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveApi]:
    base = tmp_path_factory.mktemp("live")
    if PG_URL:
        url: str = request.getfixturevalue("pg_migrated")
    else:
        url = f"sqlite:///{base / 'live.sqlite3'}"
    live = build_live_api(url, base / "instance")
    yield live
    live.rt.database.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    fuzz = sys.modules.get("tests.fuzz.test_openapi_fuzz")
    if fuzz is not None and fuzz.CALLS:
        by_status: dict[str, int] = {}
        for key, n in fuzz.CALLS.items():
            status = key.rsplit(" ", 1)[1]
            by_status[status] = by_status.get(status, 0) + n
        total = sum(fuzz.CALLS.values())
        terminalreporter.write_line(
            f"fuzz: {total} requests; by status {dict(sorted(by_status.items()))}"
        )
