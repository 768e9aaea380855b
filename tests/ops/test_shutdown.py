"""`tandem run` and `tandem scheduler` stop cleanly on SIGTERM and SIGINT (real processes).

Each process is sending a slow batch through the real Twilio SDK to the loopback stand-in
when the signal comes: it must exit 0 within 10 s, having finished the send in flight,
given back the claims it had not sent (pending again, no lease, the attempt not counted)
and released the timer lease, so nothing is lost and a successor takes over at once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from notifications.outbox import NewSms, enqueue_many
from schedules.leader import LEASE_NAME, TAKEOVER_AFTER
from store import Database
from store.models import OutboxMessage, TimerLease
from tests.faults.standin import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, TwilioStandIn
from tests.faults.topology import free_port

TANDEM = str(Path(sys.executable).with_name("tandem"))
MESSAGES = 12
# Each send takes this long at the stand-in: the batch is mid-way when the signal comes.
SEND_SECONDS = 0.6


@pytest.fixture
def slow_twilio() -> Iterator[TwilioStandIn]:
    stand_in = TwilioStandIn(delay=SEND_SECONDS)
    stand_in.start()
    yield stand_in
    stand_in.stop()


def _env(tmp_path: Path, standin: TwilioStandIn, database_url: str) -> dict[str, str]:
    # The suite's database (SQLite file, or TEST_DATABASE_URL: several senders, LISTEN).
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "TANDEM_ENV": "development",
        "TANDEM_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_BASE_URL": standin.base_url,
        "SCHEDULER_ENABLED": "true",
    }


def _queue(database: Database) -> None:
    now = datetime.now(UTC)
    with database.unit_of_work() as session:
        enqueue_many(
            session,
            [
                NewSms(
                    to=f"+120255501{50 + n:02d}",
                    body=f"Tandem: a patient needs attention. [m-{n}]",
                    purpose="page",
                    dedupe_key=f"shutdown:{n}",
                )
                for n in range(MESSAGES)
            ],
            now=now,
        )


@pytest.mark.parametrize(
    ("command", "signum"),
    [
        ("run", signal.SIGTERM),
        ("scheduler", signal.SIGTERM),
        ("run", signal.SIGINT),
        ("scheduler", signal.SIGINT),
    ],
)
def test_a_signal_stops_the_process_cleanly(
    tmp_path: Path,
    slow_twilio: TwilioStandIn,
    database: Database,
    database_url: str,
    command: str,
    signum: signal.Signals,
) -> None:
    env = _env(tmp_path, slow_twilio, database_url)
    _queue(database)
    args = [TANDEM, command] + (["--port", str(free_port())] if command == "run" else [])
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        # Two sends answered: the batch is claimed and its sending is under way.
        while slow_twilio.requests < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the process never started sending"
            time.sleep(0.05)
        with database.session() as session:
            lease = session.get(TimerLease, LEASE_NAME)
            assert lease is not None and lease.holder.startswith("scheduler:")
        signalled = time.monotonic()
        proc.send_signal(signum)
        proc.wait(timeout=10)
        stopped_in = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
        _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert stopped_in < 10

    with database.session() as session:
        rows = session.scalars(select(OutboxMessage)).all()
        lease = session.get(TimerLease, LEASE_NAME)
    statuses = [row.status for row in rows]
    sent = [row for row in rows if row.status == "sent"]
    pending = [row for row in rows if row.status == "pending"]
    # Nothing lost, nothing left claimed: each row was sent once or is due again now.
    assert len(sent) + len(pending) == MESSAGES, statuses
    assert 2 <= len(sent) < MESSAGES
    assert sum(slow_twilio.accepted.values()) == len(sent)
    assert max(slow_twilio.accepted.values()) == 1
    for row in pending:
        assert (row.claimed_until, row.attempts) == (None, 0)
    # The timer lease is given up: a successor may take it at its next tick.
    assert lease is not None
    assert lease.heartbeat_at < datetime.now(UTC) - TAKEOVER_AFTER
    records = [json.loads(line) for line in err.decode().splitlines() if line.strip()]
    assert any("stopped cleanly" in r["msg"] for r in records)
    assert any("released" in r["msg"] for r in records)


def test_nothing_is_lost_after_a_clean_stop(
    tmp_path: Path, slow_twilio: TwilioStandIn, database: Database, database_url: str
) -> None:
    """Stopped mid-batch, then started again: every message is sent exactly once."""
    env = _env(tmp_path, slow_twilio, database_url)
    _queue(database)
    for stop_after in (3, None):
        proc = subprocess.Popen(
            [TANDEM, "scheduler"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            deadline = time.monotonic() + 60
            target = stop_after if stop_after is not None else MESSAGES
            while sum(slow_twilio.accepted.values()) < target:
                assert proc.poll() is None
                assert time.monotonic() < deadline
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=10)
        assert proc.returncode == 0
    assert len(slow_twilio.accepted) == MESSAGES
    assert set(slow_twilio.accepted.values()) == {1}
    with database.session() as session:
        assert {r.status for r in session.scalars(select(OutboxMessage))} == {"sent"}
