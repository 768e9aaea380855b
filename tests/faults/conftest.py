"""Fault-injection fixtures: a Twilio stand-in, outbox accounting and dispatcher processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from store import Database
from tests.faults.standin import TwilioStandIn
from tests.support.faults import (
    PROCESS_NAME,  # noqa: F401
    Dispatchers,
    Tally,  # noqa: F401
    enqueue,  # noqa: F401
    expire_leases,  # noqa: F401
    tally,  # noqa: F401
    unfinished,  # noqa: F401
    wait_for,  # noqa: F401
)


@pytest.fixture
def standin() -> Iterator[TwilioStandIn]:
    stand_in = TwilioStandIn()
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def dispatchers(
    database_url: str, database: Database, standin: TwilioStandIn, tmp_path: Path
) -> Iterator[Dispatchers]:
    procs = Dispatchers(database_url, standin, tmp_path)
    yield procs
    procs.stop_all()
