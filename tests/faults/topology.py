"""The README's production topology as real processes: gunicorn with the shipped
gunicorn.conf.py, `tandem scheduler` processes, PostgreSQL, and the Twilio stand-in."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from store import Database
from store.models import TimerLease
from tests.faults.standin import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, TwilioStandIn

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
METRICS_TOKEN = "metrics-" + secrets.token_hex(16)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Topology:
    database_url: str
    standin: TwilioStandIn
    workdir: Path
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    jwt_secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    port: int = field(default_factory=free_port)
    gunicorn: subprocess.Popen[bytes] | None = None
    schedulers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    killed_at: dict[int, float] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "TANDEM_ENV": "production",
            "TANDEM_INSTANCE_PATH": str(self.workdir / "instance"),
            "DATABASE_URL": self.database_url,
            "SECRET_KEY": self.secret_key,
            "JWT_SECRET_KEY": self.jwt_secret_key,
            "SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": FROM_NUMBER,
            "TWILIO_API_BASE_URL": self.standin.base_url,
            "TWILIO_TIMEOUT_SECONDS": "5",
            "METRICS_TOKEN": METRICS_TOKEN,
            "LOG_LEVEL": "INFO",
            "PROMETHEUS_MULTIPROC_DIR": str(self.workdir / "metrics"),
            "WEB_CONCURRENCY": "2",
        }

    def _log(self, name: str) -> Any:
        return (self.workdir / f"{name}.log").open("wb")

    def start_gunicorn(self) -> None:
        with self._log("gunicorn") as log:
            self.gunicorn = subprocess.Popen(
                [
                    str(BIN / "gunicorn"),
                    "-c",
                    str(ROOT / "gunicorn.conf.py"),
                    "-b",
                    f"127.0.0.1:{self.port}",
                    "api.wsgi:app",
                ],
                cwd=ROOT,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            assert self.gunicorn.poll() is None, self.logs()
            time.sleep(0.2)
        raise AssertionError("gunicorn did not start\n" + self.logs())

    def start_scheduler(self) -> subprocess.Popen[bytes]:
        n = len(self.schedulers)
        with self._log(f"scheduler-{n}") as log:
            proc = subprocess.Popen(
                [str(BIN / "tandem"), "scheduler"],
                cwd=self.workdir,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.schedulers.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        self.killed_at[proc.pid] = time.time()

    def stop(self) -> None:
        procs = [p for p in [self.gunicorn, *self.schedulers] if p is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def lease(self, database: Database) -> TimerLease | None:
        with database.unit_of_work() as session:
            found = session.get(TimerLease, "timers")
            if found is not None:
                session.expunge(found)
            return found

    def readyz(self) -> tuple[int, dict[str, Any]]:
        response = requests.get(f"{self.base}/readyz", timeout=5)
        return response.status_code, response.json()

    def metrics(self) -> str:
        response = requests.get(
            f"{self.base}/metrics",
            headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.text

    def log_lines(self) -> list[str]:
        lines = []
        for path in sorted(self.workdir.glob("*.log")):
            lines.extend(path.read_text(errors="replace").splitlines())
        return lines

    def logs(self) -> str:
        return "\n".join(
            f"== {p.name}\n" + p.read_text(errors="replace")[-4000:]
            for p in sorted(self.workdir.glob("*.log"))
        )

    def leadership(self) -> list[tuple[str, float, float]]:
        """(pid, from, to) of every lead any process logged; an unfinished one ends now or
        at the process's SIGKILL."""
        spans: list[tuple[str, float, float]] = []
        open_since: dict[str, float] = {}
        for line in self.log_lines():
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            message = record.get("msg", "")
            pid = str(record.get("process"))
            at = datetime.fromisoformat(record["ts"]).timestamp()
            if "now leads" in message:
                open_since[pid] = at
            elif "no longer leads" in message and pid in open_since:
                spans.append((pid, open_since.pop(pid), at))
        for pid, since in open_since.items():
            spans.append(
                (pid, since, self.killed_at.get(int(pid) if pid.isdigit() else -1, time.time()))
            )
        return spans


def overlaps(spans: list[tuple[str, float, float]]) -> list[tuple[Any, Any]]:
    """Pairs of leads by different processes that overlap in time."""
    ordered = sorted(spans, key=lambda s: s[1])
    found = []
    for n, a in enumerate(ordered):
        found.extend((a, b) for b in ordered[n + 1 :] if b[1] < a[2] and b[0] != a[0])
    return found
