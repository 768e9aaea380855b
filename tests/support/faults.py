"""The fault tests' helpers: queue marked messages, tally what the stand-in got, run dispatchers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from notifications.outbox import enqueue_sms
from store import Database
from store.models import OutboxMessage
from tests.faults.standin import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, TwilioStandIn

PROCESS_NAME = "tandem-fault-dispatcher"


def enqueue(database: Database, count: int, *, start: int = 0) -> list[str]:
    """Queue ``count`` reminders, each with its own marker; returns the markers."""
    markers = [f"m-{n}" for n in range(start, start + count)]
    now = datetime.now(UTC)
    with database.unit_of_work() as session:
        for n, marker in enumerate(markers):
            enqueue_sms(
                session,
                to=f"+120255501{50 + n % 50:02d}",
                body=f"Tandem: time for your check-in. [{marker}]",
                purpose="reminder",
                now=now,
                dedupe_key=f"fault:{marker}",
            )
    return markers


@dataclass(frozen=True)
class Tally:
    expected: int
    delivered: int
    duplicated: int
    lost: int
    statuses: dict[str, int]
    most_copies: int = 0

    def __str__(self) -> str:
        return (
            f"expected={self.expected} delivered={self.delivered} "
            f"duplicated={self.duplicated} lost={self.lost} rows={self.statuses} "
            f"most_copies={self.most_copies}"
        )


def tally(database: Database, standin: TwilioStandIn, markers: list[str]) -> Tally:
    with database.unit_of_work() as session:
        rows = session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
    statuses = {status: count for status, count in rows}
    accepted = Counter({m: standin.accepted.get(m, 0) for m in markers})
    delivered = sum(1 for m in markers if accepted[m] > 0)
    duplicated = sum(max(0, n - 1) for n in accepted.values())
    return Tally(
        expected=len(markers),
        delivered=delivered,
        duplicated=duplicated,
        lost=len(markers) - delivered,
        statuses=statuses,
        most_copies=max(accepted.values(), default=0),
    )


def unfinished(database: Database) -> int:
    with database.unit_of_work() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status.in_(["pending", "sending"]))
            )
            or 0
        )


def wait_for(condition: Callable[[], bool], *, timeout: float, step: float = 0.1) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def expire_leases(database: Database) -> int:
    """Jump past the claim lease (20 s) of rows a dead dispatcher left 'sending'."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    with database.unit_of_work() as session:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "sending")
            .values(claimed_until=past)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class Dispatchers:
    """`tandem scheduler` processes against the test's database and the stand-in."""

    def __init__(self, database_url: str, standin: TwilioStandIn, workdir: Path) -> None:
        self.database_url = database_url
        self.standin = standin
        self.workdir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []

    def env(self) -> dict[str, str]:
        url = self.database_url
        if url.startswith("postgresql"):
            url += ("&" if "?" in url else "?") + f"application_name={PROCESS_NAME}"
        return {
            "PATH": os.environ.get("PATH", ""),
            "TANDEM_ENV": "test",
            "TANDEM_INSTANCE_PATH": str(self.workdir / "instance"),
            "DATABASE_URL": url,
            "SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": FROM_NUMBER,
            "TWILIO_API_BASE_URL": self.standin.base_url,
            "TWILIO_TIMEOUT_SECONDS": "5",
            "OUTBOX_SWEEP_SECONDS": "1",
            "SCHEDULER_ENABLED": "true",
            "LOG_LEVEL": "WARNING",
        }

    def start(self) -> subprocess.Popen[bytes]:
        tandem = Path(sys.executable).with_name("tandem")
        n = len(self.procs)
        with (self.workdir / f"dispatcher-{n}.log").open("wb") as log:
            proc = subprocess.Popen(
                [str(tandem), "scheduler"],
                cwd=self.workdir,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace")[-3000:]
            for p in sorted(self.workdir.glob("dispatcher-*.log"))
        )
