"""Load test: gunicorn + `tandem scheduler` on PostgreSQL, a loopback Twilio, simulated users.

Not part of pytest. Everything runs on 127.0.0.1:

* a bench PostgreSQL database (wiped, then migrated with store.migrate.upgrade),
* seeded with clinics, 50 clinicians and 1,000 activated patients (fictional 555-01xx numbers
  across several area codes; cheap argon2 parameters so seeding and logins measure the API,
  not the password hash),
* gunicorn with several workers serving api.wsgi:app in the production profile,
* one `tandem scheduler` process sending SMS through the real Twilio SDK,
* a Twilio stand-in thread, and
* a load generator (stdlib threads + http.client keep-alive connections) playing patients
  (task polling, PHQ-9 check-ins with ~5 % item 9 >= 1, post-session reports, /me) and
  clinicians (inbox reads, escalation details, acknowledgements, patient lists).

It prints a JSON document and a markdown table: per-endpoint count, error rate, p50/p95/p99,
overall throughput, SMS sent, and the RSS of each worker at the start and the end.

    .venv/bin/python bench/load_test.py --quick            # 30 s
    .venv/bin/python bench/load_test.py --duration 300     # the default run
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/bench_reliability"
AREA_CODES = ("202", "212", "305", "312", "415", "512", "617", "702", "718", "808", "303", "206")
PASSWORD = "bench-password-123"
ACCOUNT_SID = "AC" + "b" * 32
SYMPTOMS = (
    "dissociation",
    "perceptual_disturbances",
    "confusion",
    "agitation",
    "nausea",
    "headache",
    "scalp_pain",
    "dizziness",
    "drowsiness",
    "blurred_vision",
    "bladder_pain",
    "urinary_urgency",
)


def fictional_phones() -> Iterator[str]:
    """+1 AAA 555 01xx for several area codes: all in the fictional 555-0100..0199 block."""
    for area in AREA_CODES:
        for n in range(100, 200):
            yield f"+1{area}5550{n}"


# --------------------------------------------------------------------------- Twilio stand-in
class TwilioStandIn:
    """Answers the Messages API with 201 and counts what it took."""

    def __init__(self) -> None:
        self.sent = 0
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with stand_in._lock:
                    stand_in.sent += 1
                body = json.dumps(
                    {
                        "sid": "SM" + secrets.token_hex(16),
                        "status": "queued",
                        "account_sid": ACCOUNT_SID,
                    }
                ).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------- database
def prepare_database(url: str, *, schema: str) -> None:
    """Wipe the bench database and build the schema (migrations, or the models)."""
    from sqlalchemy import text

    from store import Database, migrate
    from store.models import Base

    database = Database(url)
    with database.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    if schema == "migrations":
        migrate.upgrade(url, "head")
        missing = _missing_columns(database)
        if missing:
            # The migrations lag the models (they are regenerated at release): say so, and
            # measure the models' schema rather than fail half-way through seeding.
            print(
                f"warning: migrations lack {len(missing)} model column(s), e.g. "
                f"{', '.join(missing[:5])}; building the schema from the models instead",
                file=sys.stderr,
            )
            with database.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            Base.metadata.create_all(database.engine)
    else:
        Base.metadata.create_all(database.engine)
    database.dispose()


def _missing_columns(database: Any) -> list[str]:
    """Model columns (table.column) that the migrated database does not have."""
    from sqlalchemy import inspect

    from store.models import Base

    inspector = inspect(database.engine)
    tables = set(inspector.get_table_names())
    missing = []
    for table in Base.metadata.sorted_tables:
        if table.name not in tables:
            missing.append(f"{table.name}.*")
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        missing += [f"{table.name}.{c.name}" for c in table.columns if c.name not in present]
    return missing


@dataclass
class Seeded:
    patients: list[str]
    clinicians: list[str]


def seed(url: str, *, patients: int, clinicians: int, clinics: int) -> Seeded:
    """Clinics, clinicians (tiers 1-3) and activated patients, through the services."""
    from argon2 import PasswordHasher

    from config import load_settings
    from notifications.log_sms import LogSmsSender
    from services import clinics as clinic_service
    from services import patients as patient_service
    from services.passwords import hash_secret, use_hasher
    from services.runtime import Runtime

    # Cheap argon2 for the seeded accounts: the bench measures the API, not the hashing.
    use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    settings = load_settings(
        {"TANDEM_ENV": "test", "DATABASE_URL": url, "SCHEDULER_ENABLED": "false"}, dotenv_path=None
    )
    rt = Runtime.from_settings(settings, sms=LogSmsSender())
    now = datetime.now(UTC)
    phones = fictional_phones()
    staff_by_clinic: dict[int, list[Any]] = defaultdict(list)
    clinician_logins: list[str] = []
    with rt.database.unit_of_work() as s:
        clinic_ids = [
            clinic_service.create_clinic(
                s,
                actor=None,
                name=f"Bench clinic {c}",
                timezone="America/New_York",
                policy=None,
                now=now,
            ).id
            for c in range(clinics)
        ]
        for n in range(clinicians):
            clinic_id = clinic_ids[n % clinics]
            email = f"clin{n}@bench.test"
            user = clinic_service.create_staff(
                s,
                actor=None,
                role="clinician",
                name=f"Clinician {n}",
                email=email,
                phone=next(phones),
                password=PASSWORD,
                clinic_id=clinic_id,
                on_call_tier=1 + (len(staff_by_clinic[clinic_id]) % 3),
                now=now,
            )
            staff_by_clinic[clinic_id].append(user)
            clinician_logins.append(email)
    patient_logins: list[str] = []
    password_hash = hash_secret(PASSWORD)
    batch = 100
    for start in range(0, patients, batch):
        with rt.database.unit_of_work() as s:
            for n in range(start, min(start + batch, patients)):
                clinic_id = clinic_ids[n % clinics]
                clinician = s.merge(staff_by_clinic[clinic_id][n % len(staff_by_clinic[clinic_id])])
                phone = next(phones)
                profile = patient_service.enroll_patient(
                    s,
                    clinician=clinician,
                    now=now,
                    data={
                        "name": f"Patient {n}",
                        "phone": phone,
                        "timezone": "America/New_York",
                        "bipolar": n % 10 == 0,
                        "weight_kg": 70.0,
                        "care_team": [clinician.id],
                        "screening": {
                            "failed_antidepressant_trials": 2,
                            "prior_inadequate_response": ["ketamine"],
                            "baseline": {"instrument": "PHQ-9", "score": 20},
                            "medical_clearance": True,
                            "cardiovascular_assessment": True,
                            "uncontrolled_hypertension": False,
                            "active_substance_use_disorder": False,
                            "uncontrolled_seizure_disorder": False,
                            "active_suicidal_ideation_requiring_intervention": False,
                        },
                    },
                )
                profile.user.password_hash = password_hash
                profile.activated_at = now
                patient_logins.append(phone)
    rt.database.dispose()
    return Seeded(patients=patient_logins, clinicians=clinician_logins)


# --------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def service_env(url: str, twilio_url: str, workdir: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "TANDEM_ENV": "production",
        "TANDEM_INSTANCE_PATH": str(workdir / "instance"),
        "DATABASE_URL": url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "TWILIO_FROM_NUMBER": "+12025550199",
        "TWILIO_API_BASE_URL": twilio_url,
        "OUTBOX_SWEEP_SECONDS": "2",
        "SCHEDULER_ENABLED": "true",
        "LOG_LEVEL": "WARNING",
        "ACCESS_TOKEN_MINUTES": "60",
    }


@contextmanager
def services(
    url: str, twilio_url: str, workdir: Path, *, workers: int, port: int
) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """gunicorn and `tandem scheduler`, stopped (TERM, then KILL) on the way out."""
    env = service_env(url, twilio_url, workdir)
    bin_dir = Path(sys.executable).parent
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs = []
    try:
        for name, argv in (
            (
                "gunicorn",
                [
                    str(bin_dir / "gunicorn"),
                    "-w",
                    str(workers),
                    "-b",
                    f"127.0.0.1:{port}",
                    "--worker-class",
                    "gthread",
                    "--threads",
                    "4",
                    "--timeout",
                    "60",
                    "--log-level",
                    "warning",
                    "api.wsgi:app",
                ],
            ),
            ("scheduler", [str(bin_dir / "tandem"), "scheduler"]),
        ):
            log = (workdir / f"{name}.log").open("wb")
            logs.append(log)
            procs[name] = subprocess.Popen(
                argv, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        yield procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for log in logs:
            log.close()


def wait_ready(port: int, *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not become ready")


def rss_kb(pid: int) -> int | None:
    """Resident set size from /proc (psutil is not a dependency)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def memory(procs: dict[str, subprocess.Popen[bytes]]) -> dict[str, int | None]:
    found: dict[str, int | None] = {}
    gunicorn = procs["gunicorn"].pid
    found["gunicorn-master"] = rss_kb(gunicorn)
    for n, child in enumerate(sorted(children(gunicorn))):
        found[f"gunicorn-worker-{n}"] = rss_kb(child)
    found["scheduler"] = rss_kb(procs["scheduler"].pid)
    return found


# --------------------------------------------------------------------------- load generator
@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, name: str, status: int, seconds: float) -> None:
        with self.lock:
            self.latencies[name].append(seconds)
            self.statuses[name][status] += 1


class Client:
    """One keep-alive HTTP/1.1 connection per generator thread."""

    def __init__(self, port: int, stats: Stats) -> None:
        self.port = port
        self.stats = stats
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(
        self, name: str, method: str, path: str, *, token: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        data = None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.stats.record(name, 0, time.perf_counter() - started)
            return 0, None
        self.stats.record(name, status, time.perf_counter() - started)
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None


def login(client: Client, username: str) -> str | None:
    status, body = client.call(
        "POST /auth/login",
        "POST",
        "/api/v1/auth/login",
        body={"username": username, "password": PASSWORD},
    )
    return body["access_token"] if status == 200 and body else None


def phq9_answers(rng: random.Random) -> list[int]:
    answers = [rng.choice((0, 1, 1, 2, 2, 3)) for _ in range(8)]
    # ~5 % of check-ins answer item 9 (thoughts of self-harm) with 1 or more.
    answers.append(rng.choice((1, 2, 3)) if rng.random() < 0.05 else 0)
    return answers


def patient_action(client: Client, token: str, rng: random.Random) -> None:
    roll = rng.random()
    if roll < 0.55:
        client.call("GET /me/tasks", "GET", "/api/v1/me/tasks", token=token)
    elif roll < 0.75:
        client.call("GET /me", "GET", "/api/v1/me", token=token)
    elif roll < 0.92:
        client.call(
            "POST /checkins/phq9",
            "POST",
            "/api/v1/checkins/phq9",
            token=token,
            body={"answers": phq9_answers(rng), "difficulty": rng.randint(0, 3)},
        )
    elif roll < 0.97:
        client.call(
            "POST /symptom-reports",
            "POST",
            "/api/v1/symptom-reports",
            token=token,
            body={
                "symptoms": {s: rng.choice((0, 0, 0, 1, 2)) for s in SYMPTOMS},
                "asrm": [rng.choice((0, 0, 1)) for _ in range(5)],
                "suicidal_thoughts": 0,
                "seizure": False,
                "fainted": False,
            },
        )
    else:
        client.call("GET /me/checkins", "GET", "/api/v1/me/checkins?limit=20", token=token)


def clinician_action(client: Client, token: str, rng: random.Random) -> None:
    roll = rng.random()
    status, page = client.call(
        "GET /escalations", "GET", "/api/v1/escalations?status=open", token=token
    )
    items = (page or {}).get("items", []) if status == 200 else []
    if items and roll < 0.5:
        escalation = rng.choice(items)
        client.call(
            "GET /escalations/{id}", "GET", f"/api/v1/escalations/{escalation['id']}", token=token
        )
        if rng.random() < 0.6:
            client.call(
                "POST /escalations/{id}/acknowledge",
                "POST",
                f"/api/v1/escalations/{escalation['id']}/acknowledge",
                token=token,
            )
    elif roll < 0.8:
        client.call("GET /patients", "GET", "/api/v1/patients?limit=50", token=token)


def run_load(
    port: int, seeded: Seeded, *, duration: float, threads: int, think: float, seed_value: int
) -> tuple[Stats, float]:
    stats = Stats()
    tokens: dict[str, str] = {}
    token_lock = threading.Lock()
    users = [("patient", u) for u in seeded.patients] + [
        ("clinician", u) for u in seeded.clinicians
    ]
    # Clinicians are 50 of ~1,050 users but act far more often than any one patient.
    weights = [1.0] * len(seeded.patients) + [8.0] * len(seeded.clinicians)
    deadline = time.monotonic() + duration
    started = time.monotonic()

    def worker(n: int) -> None:
        rng = random.Random(seed_value + n)
        client = Client(port, stats)
        while time.monotonic() < deadline:
            kind, username = rng.choices(users, weights)[0]
            with token_lock:
                token = tokens.get(username)
            if token is None:
                token = login(client, username)
                if token is None:
                    continue
                with token_lock:
                    tokens[username] = token
            if kind == "patient":
                patient_action(client, token, rng)
            else:
                clinician_action(client, token, rng)
            if think:
                time.sleep(rng.uniform(0, think))
        client.conn.close()

    pool = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(duration + 60)
    return stats, time.monotonic() - started


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def summarize(stats: Stats, elapsed: float) -> dict[str, Any]:
    endpoints = {}
    total = errors = 0
    for name in sorted(stats.latencies):
        values = stats.latencies[name]
        statuses = dict(sorted(stats.statuses[name].items()))
        failed = sum(n for status, n in statuses.items() if status == 0 or status >= 500)
        total += len(values)
        errors += failed
        endpoints[name] = {
            "count": len(values),
            "errors_5xx_or_transport": failed,
            "error_rate": round(failed / len(values), 5) if values else 0.0,
            "statuses": {str(k): v for k, v in statuses.items()},
            "p50_ms": round(percentile(values, 50) * 1000, 1),
            "p95_ms": round(percentile(values, 95) * 1000, 1),
            "p99_ms": round(percentile(values, 99) * 1000, 1),
        }
    return {
        "requests": total,
        "elapsed_s": round(elapsed, 1),
        "throughput_rps": round(total / elapsed, 1) if elapsed else 0.0,
        "error_rate": round(errors / total, 5) if total else 0.0,
        "endpoints": endpoints,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| endpoint | requests | 5xx/transport | statuses | p50 ms | p95 ms | p99 ms |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for name, row in result["load"]["endpoints"].items():
        statuses = ", ".join(f"{k}: {v}" for k, v in row["statuses"].items())
        lines.append(
            f"| {name} | {row['count']} | {row['errors_5xx_or_transport']} | "
            f"{statuses} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} |"
        )
    load = result["load"]
    lines.append("")
    lines.append(
        f"{load['requests']} requests in {load['elapsed_s']} s = "
        f"{load['throughput_rps']} req/s; error rate {load['error_rate']:.3%}; "
        f"SMS sent to the stand-in: {result['sms_sent']}"
    )
    lines.append("")
    lines.append("| process | RSS cold (MiB) | RSS warm (MiB) | RSS end (MiB) | warm → end |")
    lines.append("| --- | ---: | ---: | ---: | ---: |")
    for name, start in result["rss_kb_start"].items():
        warm = result["rss_kb_warm"].get(name)
        end = result["rss_kb_end"].get(name)
        growth = result["rss_growth_warm_to_end"].get(name)
        lines.append(
            f"| {name} | {(start or 0) / 1024:.1f} | {(warm or 0) / 1024:.1f} | "
            f"{(end or 0) / 1024:.1f} | {'' if growth is None else f'{growth:+.1%}'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--duration", type=float, default=300.0)
    parser.add_argument("--quick", action="store_true", help="30 s instead of --duration")
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--clinicians", type=int, default=50)
    parser.add_argument("--clinics", type=int, default=5)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=32, help="load generator threads")
    parser.add_argument("--think", type=float, default=0.05, help="max think time (s)")
    parser.add_argument("--schema", choices=("migrations", "models"), default="migrations")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--workdir", type=Path, default=ROOT / ".cache" / "bench")
    args = parser.parse_args(argv)
    duration = 30.0 if args.quick else args.duration
    warmup = min(30.0, duration / 5)
    if not args.database_url.startswith("postgresql"):
        parser.error("the load test runs on PostgreSQL (--database-url postgresql://...)")
    if args.patients > len(AREA_CODES) * 100 - args.clinicians:
        parser.error("not enough fictional phone numbers for that many users")
    args.workdir.mkdir(parents=True, exist_ok=True)

    prepare_database(args.database_url, schema=args.schema)
    t0 = time.monotonic()
    seeded = seed(
        args.database_url, patients=args.patients, clinicians=args.clinicians, clinics=args.clinics
    )
    seed_seconds = time.monotonic() - t0
    twilio = TwilioStandIn()
    twilio.start()
    port = free_port()
    try:
        with services(
            args.database_url, twilio.url, args.workdir, workers=args.workers, port=port
        ) as procs:
            wait_ready(port)
            rss_start = memory(procs)
            # Warm up first (imports, pools, caches) so growth is measured on a warm process.
            run_load(
                port,
                seeded,
                duration=warmup,
                threads=args.threads,
                think=args.think,
                seed_value=args.seed + 1,
            )
            rss_warm = memory(procs)
            stats, elapsed = run_load(
                port,
                seeded,
                duration=duration,
                threads=args.threads,
                think=args.think,
                seed_value=args.seed,
            )
            rss_end = memory(procs)
            alive = {name: proc.poll() is None for name, proc in procs.items()}
            time.sleep(3)  # let the scheduler send what the last requests queued
    finally:
        twilio.stop()
    summary = summarize(stats, elapsed)
    result = {
        "config": {
            "duration_s": duration,
            "warmup_s": warmup,
            "patients": args.patients,
            "clinicians": args.clinicians,
            "clinics": args.clinics,
            "gunicorn_workers": args.workers,
            "generator_threads": args.threads,
            "think_s": args.think,
            "schema": args.schema,
            "seed_s": round(seed_seconds, 1),
        },
        "load": summary,
        "sms_sent": twilio.sent,
        "processes_alive_at_end": alive,
        "rss_kb_start": rss_start,
        "rss_kb_warm": rss_warm,
        "rss_kb_end": rss_end,
        "rss_growth_warm_to_end": {
            name: round((rss_end[name] or 0) / warm - 1, 3)
            for name, warm in rss_warm.items()
            if warm and rss_end.get(name)
        },
    }
    print(json.dumps(result, indent=2))
    print()
    print(markdown(result))
    error_rate = float(summary["error_rate"])
    return 0 if error_rate < 0.01 and all(alive.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
