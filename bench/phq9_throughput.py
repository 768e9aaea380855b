"""Throughput of POST /api/v1/checkins/phq9 against a floor endpoint on the same stack.

The floor is the least any authenticated create can cost here: the same app, JWT check and
revocation look-up, JSON parse, one INSERT and the commit at the edge. It exists only in this
benchmark (``bench_app`` adds it), never in production code.

    .venv/bin/python bench/phq9_throughput.py --db-url postgresql://postgres@127.0.0.1:5432/bench

The database is wiped and migrated (store.migrate.upgrade). Gunicorn serves
``bench.phq9_throughput:bench_app()`` on loopback; a threaded http.client load generator runs
a closed loop for peak throughput of each endpoint, then an open loop at half the PHQ-9 peak
for latency (measured from each request's scheduled start, so queueing is counted). Prints JSON.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask import Blueprint, Flask, jsonify, request  # noqa: E402
from flask.typing import ResponseReturnValue  # noqa: E402

FLOOR_URL = "/api/v1/bench/floor"
PHQ9_URL = "/api/v1/checkins/phq9"
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/bench_selfreport"
RATIO_TARGET = 0.60
P99_TARGET_MS = 50.0


# --- the app gunicorn serves --------------------------------------------------------------------


def bench_app() -> Flask:
    """The production app plus the floor endpoint (benchmark only)."""
    from api.app import create_app
    from api.extensions import db, runtime
    from api.security import require, the_user
    from store.models import AuditEvent, Role

    app = create_app()
    floor = Blueprint("bench_floor", __name__)

    @floor.post(FLOOR_URL)
    @require(Role.PATIENT)
    def floor_create() -> ResponseReturnValue:
        body = request.get_json()
        if not isinstance(body, dict):
            return jsonify(detail="expected an object"), 422
        user = the_user()
        event = AuditEvent(
            at=runtime().clock.now(),
            actor_id=user.id,
            clinic_id=user.clinic_id,
            action="bench.floor",
            target_type="bench",
            target_id=None,
            detail={},
        )
        session = db()
        session.add(event)
        session.flush()
        return jsonify(id=event.id), 201

    app.register_blueprint(floor)
    return app


# --- database and tokens ------------------------------------------------------------------------

SCHEMA_SOURCE = "migrations (store.migrate.upgrade)"


def _migrations_behind(engine: Any, metadata: Any) -> bool:
    """True when a model's table, column or index is missing from the migrated database."""
    from sqlalchemy import inspect

    inspector = inspect(engine)
    tables = set(inspector.get_table_names())
    for table in metadata.sorted_tables:
        if table.name not in tables:
            return True
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        if {c.name for c in table.columns} - columns:
            return True
        if {i.name for i in table.indexes} - indexes:
            return True
    return False


def prepare_database(url: str, *, patients: int, env: dict[str, str]) -> list[str]:
    """Wipe and migrate the bench DB, enrol patients, and mint each an access token."""
    from flask_jwt_extended import create_access_token
    from sqlalchemy import text

    from api.app import create_app
    from config import load_settings
    from services import clinics
    from services import patients as patient_service
    from services.auth import start_session
    from store import Database
    from store.migrate import upgrade
    from store.models import Base

    database = Database(url)

    def wipe() -> None:
        with database.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))

    wipe()
    upgrade(url)
    global SCHEMA_SOURCE
    if _migrations_behind(database.engine, Base.metadata):
        # The models are ahead of the migrations until they are regenerated: build the
        # schema the code expects instead, and say so in the report.
        wipe()
        Base.metadata.create_all(database.engine)
        SCHEMA_SOURCE = "models (migrations are behind the models)"

    settings = load_settings(env, dotenv_path=None)
    app = create_app(settings)
    from services.runtime import Runtime

    rt: Runtime = app.extensions["tandem"]
    now = rt.clock.now()
    tokens: list[str] = []
    with app.app_context(), rt.database.unit_of_work() as session:
        clinic = clinics.create_clinic(
            session,
            actor=None,
            name="Bench clinic",
            timezone="America/New_York",
            policy=None,
            now=now,
        )
        clinician = clinics.create_staff(
            session,
            actor=None,
            role="clinician",
            name="Bench clinician",
            email="bench@tandem.test",
            phone="+12025550100",
            password=secrets.token_hex(8),
            clinic_id=clinic.id,
            on_call_tier=1,
            now=now,
        )
        for i in range(patients):
            profile = patient_service.enroll_patient(
                session,
                clinician=clinician,
                now=now,
                data={
                    "name": f"Bench {i}",
                    "phone": f"+1202555{101 + i:04d}",
                    "timezone": "America/New_York",
                    "bipolar": i % 10 == 0,
                    "weight_kg": 70.0,
                    "care_team": [clinician.id],
                    "screening": {
                        "failed_antidepressant_trials": 2,
                        "prior_inadequate_response": ["ketamine"],
                        "baseline": {"instrument": "PHQ-9", "score": 18},
                        "medical_clearance": True,
                        "cardiovascular_assessment": True,
                        "uncontrolled_hypertension": False,
                        "active_substance_use_disorder": False,
                        "uncontrolled_seizure_disorder": False,
                        "active_suicidal_ideation_requiring_intervention": False,
                    },
                },
            )
            login = start_session(session, user=profile.user, now=now, lifetime=timedelta(hours=2))
            tokens.append(
                create_access_token(
                    identity=str(profile.user_id),
                    additional_claims={
                        "role": "patient",
                        "clinic_id": clinic.id,
                        "sid": login.session_id,
                    },
                    expires_delta=timedelta(hours=2),
                )
            )
    rt.database.dispose()
    database.dispose()
    return tokens


# --- load generation ----------------------------------------------------------------------------


@dataclass
class Samples:
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    errors: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int, latency: float) -> None:
        with self.lock:
            if status == 201:
                self.ok += 1
                self.latencies.append(latency)
            else:
                self.errors[status] = self.errors.get(status, 0) + 1

    def summary(self, seconds: float) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float | None:
            if not ordered:
                return None
            return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 2)

        return {
            "ok": self.ok,
            "errors": self.errors,
            "rps": round(self.ok / seconds, 1),
            "p50_ms": pct(0.50),
            "p90_ms": pct(0.90),
            "p99_ms": pct(0.99),
            "max_ms": round(ordered[-1] * 1000, 2) if ordered else None,
        }


class Connection:
    """One keep-alive HTTP connection (reopened when the server closes it)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, path: str, body: bytes, token: str) -> int:
        try:
            self.conn.request(
                "POST",
                path,
                body=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            response = self.conn.getresponse()
            response.read()
            if response.will_close:
                self.conn.close()
            return response.status
        except (OSError, http.client.HTTPException):
            self.conn.close()
            return 599


def phq9_body(rng: random.Random) -> bytes:
    """A realistic mix for patients in treatment: answers 0-1 (totals in remission range),
    one item skipped one time in 20, item 9 at 1 (a high suicidality flag that pages) one time
    in 50."""
    answers: list[int | None] = [rng.randint(0, 1) for _ in range(8)]
    answers.append(1 if rng.random() < 0.02 else 0)
    if rng.random() < 0.05:
        answers[rng.randrange(8)] = None
    return json.dumps({"answers": answers, "difficulty": rng.randint(0, 3)}).encode()


def floor_body(rng: random.Random) -> bytes:
    return json.dumps({"answers": [rng.randint(0, 3) for _ in range(9)]}).encode()


Body = Callable[[random.Random], bytes]


def closed_loop(
    port: int,
    path: str,
    body: Body,
    tokens: list[str],
    *,
    concurrency: int,
    seconds: float,
    samples: Samples | None = None,
) -> tuple[Samples, float]:
    """Each thread sends back to back: the peak the server sustains. Returns samples, time."""
    samples = samples or Samples()
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))
    counter_lock = threading.Lock()

    def run(seed: int) -> None:
        rng = random.Random(seed)
        conn = Connection(port)
        while time.perf_counter() < deadline:
            with counter_lock:
                n = next(counter)
            payload = body(rng)
            start = time.perf_counter()
            status = conn.post(path, payload, tokens[(seed * 7919 + n) % len(tokens)])
            samples.add(status, time.perf_counter() - start)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples, time.perf_counter() - began


def interleaved_peaks(
    port: int, tokens: list[str], *, concurrency: int, seconds: float, rounds: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Floor and PHQ-9 peaks in alternating slices, so both see the same machine conditions
    (this host is shared; sequential phases drift with its load)."""
    floor, phq9 = Samples(), Samples()
    floor_time = phq9_time = 0.0
    for _ in range(rounds):
        _, spent = closed_loop(
            port,
            FLOOR_URL,
            floor_body,
            tokens,
            concurrency=concurrency,
            seconds=seconds / rounds,
            samples=floor,
        )
        floor_time += spent
        _, spent = closed_loop(
            port,
            PHQ9_URL,
            phq9_body,
            tokens,
            concurrency=concurrency,
            seconds=seconds / rounds,
            samples=phq9,
        )
        phq9_time += spent
    return floor.summary(floor_time), phq9.summary(phq9_time)


def open_loop(
    port: int,
    path: str,
    body: Body,
    tokens: list[str],
    *,
    rate: float,
    seconds: float,
    workers: int = 32,
) -> dict[str, Any]:
    """Requests at a fixed rate; latency counts from each request's scheduled start."""
    samples = Samples()
    total = int(rate * seconds)
    start_at = time.perf_counter() + 0.2
    counter = iter(range(total))
    lock = threading.Lock()

    def run(seed: int) -> None:
        rng = random.Random(seed)
        conn = Connection(port)
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            due = start_at + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            payload = body(rng)
            status = conn.post(path, payload, tokens[n % len(tokens)])
            samples.add(status, time.perf_counter() - due)

    threads = [threading.Thread(target=run, args=(1000 + i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = samples.summary(seconds)
    result["target_rps"] = round(rate, 1)
    return result


# --- orchestration ------------------------------------------------------------------------------


def wait_ready(port: int, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not become ready")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="gthread", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--rounds", type=int, default=6, help="alternating floor/PHQ-9 slices within --seconds each"
    )
    parser.add_argument("--patients", type=int, default=90)
    args = parser.parse_args(argv)
    if not 1 <= args.patients <= 99:
        parser.error("--patients must be 1-99 (fictional numbers +1202555 0101-0199)")

    instance = tempfile.mkdtemp(prefix="tandem-bench-")
    env = {
        **os.environ,
        "TANDEM_ENV": "development",
        "DATABASE_URL": args.db_url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "SMS_BACKEND": "log",
        "SCHEDULER_ENABLED": "false",
        "TANDEM_INSTANCE_PATH": instance,
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    tokens = prepare_database(args.db_url, patients=args.patients, env=env)
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--threads",
        str(args.threads),
        "--bind",
        f"127.0.0.1:{args.port}",
        "--log-level",
        "warning",
        "--backlog",
        "2048",
        "bench.phq9_throughput:bench_app()",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        wait_ready(args.port)
        run = {"port": args.port, "tokens": tokens}
        for path, body in ((FLOOR_URL, floor_body), (PHQ9_URL, phq9_body)):
            closed_loop(
                body=body, path=path, concurrency=args.concurrency, seconds=args.warmup, **run
            )
        floor, phq9 = interleaved_peaks(
            concurrency=args.concurrency, seconds=args.seconds, rounds=args.rounds, **run
        )
        half = open_loop(
            body=phq9_body, path=PHQ9_URL, rate=phq9["rps"] / 2, seconds=args.seconds, **run
        )
        floor_half = open_loop(
            body=floor_body, path=FLOOR_URL, rate=phq9["rps"] / 2, seconds=args.seconds, **run
        )
        load = os.getloadavg()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    ratio = phq9["rps"] / floor["rps"] if floor["rps"] else 0.0
    report = {
        "config": {
            "workers": args.workers,
            "worker_class": args.worker_class,
            "threads": args.threads,
            "concurrency": args.concurrency,
            "seconds_per_phase": args.seconds,
            "patients": args.patients,
            "database": "postgresql",
            "schema": SCHEMA_SOURCE,
            "cpus": os.cpu_count(),
            "loadavg_after": [round(x, 2) for x in load],
            "phq9_mix": "answers 0-1, item 9 = 1 in 2 %, one skip in 5 %",
        },
        "floor_peak": floor,
        "phq9_peak": phq9,
        "throughput_ratio": round(ratio, 3),
        "phq9_at_half_peak": half,
        "floor_at_same_rate": floor_half,
        "targets": {
            "ratio_min": RATIO_TARGET,
            "ratio_ok": ratio >= RATIO_TARGET,
            "p99_max_ms": P99_TARGET_MS,
            "p99_ok": half["p99_ms"] is not None and half["p99_ms"] < P99_TARGET_MS,
        },
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
