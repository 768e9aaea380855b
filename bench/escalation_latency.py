"""Benchmark: from a PHQ-9's 201 to the page arriving at a local Twilio stand-in.

Runs everything on loopback: the Tandem app under a real HTTP server (werkzeug, threaded),
PostgreSQL, a DispatcherWorker (in-process nudge + LISTEN/NOTIFY + sweep) sending through
the real Twilio SDK, and a minimal Twilio Messages API stand-in that timestamps arrivals.

    .venv/bin/python bench/escalation_latency.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/tandem_bench

The database's public schema is DROPPED and rebuilt: point it at a throwaway database
(its name must contain "bench" or "test"). Prints one JSON summary.

1. Latency: N sequential PHQ-9 submissions with item 9 = 2, each from a patient with no
   open escalation (the previous one is resolved between submissions, outside the clock),
   timed from the moment the client has the 201 to the page's arrival at the stand-in.
   The page can arrive before the client has read the 201 (the commit precedes the
   response): such latencies are negative and counted as they are.
2. Burst: B urgent flags submitted at once (half PHQ-9 item 9 = 2, half post-session
   reports with a seizure, from B/2 patients), timed from the release of the burst to the
   last page's arrival.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import requests
from sqlalchemy import text
from werkzeug import Request, Response
from werkzeug.serving import BaseWSGIServer, make_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.app import create_app  # noqa: E402
from config import load_settings  # noqa: E402
from notifications.outbox import DispatcherWorker  # noqa: E402
from services import clinics, escalations, patients  # noqa: E402
from services.passwords import hash_secret  # noqa: E402
from services.runtime import Runtime  # noqa: E402
from store import Database  # noqa: E402
from store.models import Base, User  # noqa: E402

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
PASSWORD = "bench password 1"
CLINICIAN_PHONE = "+12025550101"
SUICIDAL = [1, 1, 1, 1, 1, 1, 1, 1, 2]
SYMPTOMS = {
    name: 0
    for name in (
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
}
SEIZURE_REPORT = {
    "symptoms": SYMPTOMS,
    "asrm": [0, 0, 0, 0, 0],
    "suicidal_thoughts": 0,
    "seizure": True,
    "fainted": False,
}
ESCALATION_ID = re.compile(r"Escalation (\d+)\.")


class StandIn:
    """Twilio's Messages API on loopback: records when each page (by escalation id) arrives."""

    def __init__(self) -> None:
        self.arrivals: dict[int, float] = {}
        self.count = 0
        self.cond = threading.Condition()
        self._sid = 0
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        now = time.perf_counter()
        form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        match = ESCALATION_ID.search(form.get("Body", ""))
        with self.cond:
            self._sid += 1
            sid = f"SM{self._sid:032x}"
            if match:
                self.arrivals.setdefault(int(match.group(1)), now)
                self.count += 1
            self.cond.notify_all()
        body = json.dumps(
            {
                "sid": sid,
                "account_sid": ACCOUNT_SID,
                "status": "queued",
                "to": form.get("To"),
                "body": form.get("Body"),
            }
        )
        response = Response(body, status=201, content_type="application/json")
        return response(environ, start_response)

    def wait_for(self, escalation_id: int, timeout: float) -> float | None:
        with self.cond:
            self.cond.wait_for(lambda: escalation_id in self.arrivals, timeout=timeout)
            return self.arrivals.get(escalation_id)


def reset_schema(url: str) -> None:
    name = url.rsplit("/", 1)[-1]
    if "bench" not in name and "test" not in name:
        raise SystemExit(f"refusing to wipe {name!r}: use a database named *bench* or *test*")
    database = Database(url)
    with database.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    Base.metadata.create_all(database.engine)
    database.dispose()


def build_world(rt: Runtime, patient_count: int) -> tuple[int, list[tuple[int, str]]]:
    """One clinic, one tier-1 clinician, and activated patients with fictional numbers."""
    now = rt.clock.now()
    with rt.database.unit_of_work() as s:
        clinic = clinics.create_clinic(
            s, actor=None, name="Bench", timezone="America/New_York", policy=None, now=now
        )
        clinician = clinics.create_staff(
            s,
            actor=None,
            role="clinician",
            name="On call",
            email="oncall@bench.test",
            phone=CLINICIAN_PHONE,
            password=PASSWORD,
            clinic_id=clinic.id,
            on_call_tier=1,
            now=now,
        )
        made = []
        for n in range(patient_count):
            phone = f"+120255501{10 + n:02d}"
            profile = patients.enroll_patient(
                s,
                clinician=clinician,
                now=now,
                data={
                    "name": f"Bench {n}",
                    "phone": phone,
                    "timezone": "America/New_York",
                    "bipolar": False,
                    "weight_kg": 70.0,
                    "care_team": [clinician.id],
                    "screening": {
                        "failed_antidepressant_trials": 2,
                        "prior_inadequate_response": ["tms"],
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
            profile.user.password_hash = hash_secret(PASSWORD)
            profile.activated_at = now
            made.append((profile.user_id, phone))
        return clinician.id, made


def login(base: str, http: requests.Session, username: str) -> dict[str, str]:
    response = http.post(
        f"{base}/api/v1/auth/login", json={"username": username, "password": PASSWORD}, timeout=30
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def resolve(rt: Runtime, clinician_id: int, escalation_id: int) -> None:
    with rt.database.unit_of_work() as s:
        viewer = s.get(User, clinician_id)
        assert viewer is not None
        escalations.resolve(
            s, viewer=viewer, escalation_id=escalation_id, note="bench", now=rt.clock.now()
        )


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def start_gunicorn(env: dict[str, str], workers: int) -> tuple[subprocess.Popen[bytes], str]:
    """gunicorn serving api.wsgi:app on a free loopback port; waits until it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "api.wsgi:app",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "-k",
            "gthread",
            "--threads",
            "16",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
    )
    base = f"http://127.0.0.1:{port}"
    progress(f"gunicorn pid {process.pid} on {base}")
    for _ in range(150):
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except requests.RequestException:
            pass  # still booting
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not start")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--latency-patients", type=int, default=20)
    parser.add_argument("--server", choices=("gunicorn", "werkzeug"), default="gunicorn")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    # SIGTERM (e.g. from `timeout`) unwinds through the finally blocks, stopping gunicorn.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not args.database_url.startswith("postgresql"):
        raise SystemExit("the benchmark runs on PostgreSQL")
    burst_patients = (args.burst + 1) // 2
    if args.latency_patients + burst_patients > 90:
        raise SystemExit("at most 90 patients (fictional numbers +1202555 0110-0199)")

    reset_schema(args.database_url)
    stand_in = StandIn()
    stand_in.thread.start()
    instance = tempfile.mkdtemp(prefix="tandem-bench-")
    settings_env = {
        "TANDEM_ENV": "test",
        "DATABASE_URL": args.database_url,
        "TANDEM_INSTANCE_PATH": instance,
        "SCHEDULER_ENABLED": "false",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": "bench-token",
        "TWILIO_FROM_NUMBER": "+12025550199",
        "TWILIO_API_BASE_URL": stand_in.url,
        "OUTBOX_SWEEP_SECONDS": "5",
        "LOG_LEVEL": "WARNING",
    }
    settings = load_settings(settings_env, dotenv_path=None)
    rt = Runtime.from_settings(settings)
    clinician_id, people = build_world(rt, args.latency_patients + burst_patients)
    rt.dispatcher.drain()  # the activation codes, before anything is timed

    worker = DispatcherWorker(rt.dispatcher, sweep_seconds=settings.outbox_sweep_seconds)
    worker.start()
    worker.listening.wait(10)
    if args.server == "gunicorn":
        # The API in its own processes, as deployed: pages reach this process's dispatcher
        # only through PostgreSQL NOTIFY (and the sweep).
        gunicorn, base = start_gunicorn(settings_env, args.workers)
        server = None
    else:
        gunicorn = None
        server = make_server("127.0.0.1", 0, create_app(rt=rt), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"

    summary: dict[str, Any] = {
        "database": "postgresql",
        "server": (
            f"gunicorn {args.workers} workers (gthread)"
            if gunicorn
            else "werkzeug threaded, in-process"
        ),
        "dispatcher": "DispatcherWorker in the benchmark process",
        "listen_notify": worker.listening.is_set(),
    }
    try:
        http = requests.Session()
        headers = {pid: login(base, http, phone) for pid, phone in people}
        latency_people = people[: args.latency_patients]
        latencies: list[float] = []
        missing = 0
        for n in range(args.submissions):
            pid, _phone = latency_people[n % len(latency_people)]
            response = http.post(
                f"{base}/api/v1/checkins/phq9",
                json={"answers": SUICIDAL},
                headers=headers[pid],
                timeout=30,
            )
            got_201 = time.perf_counter()
            if response.status_code != 201:
                raise SystemExit(f"submission {n}: {response.status_code} {response.text}")
            escalation_id = response.json()["escalation"]["id"]
            arrived = stand_in.wait_for(escalation_id, timeout=10)
            if arrived is None:
                missing += 1
            else:
                latencies.append((arrived - got_201) * 1000)
            resolve(rt, clinician_id, escalation_id)
        summary["latency_ms"] = {
            "submissions": args.submissions,
            "paged": len(latencies),
            "missing": missing,
            "p50": round(statistics.median(latencies), 2),
            "p99": round(percentile(latencies, 0.99), 2),
            "max": round(max(latencies), 2),
            "min": round(min(latencies), 2),
            "mean": round(statistics.fmean(latencies), 2),
        }

        burst_people = people[args.latency_patients :]
        jobs: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        for n in range(args.burst):
            pid, _phone = burst_people[n // 2]
            if n % 2 == 0:
                jobs.append(("/api/v1/checkins/phq9", {"answers": SUICIDAL}, headers[pid]))
            else:
                jobs.append(("/api/v1/symptom-reports", SEIZURE_REPORT, headers[pid]))
        ids: list[int] = []
        failures: list[str] = []
        lock = threading.Lock()
        barrier = threading.Barrier(len(jobs) + 1)

        def submit(path: str, body: dict[str, Any], auth: dict[str, str]) -> None:
            with requests.Session() as own:
                barrier.wait()
                response = own.post(f"{base}{path}", json=body, headers=auth, timeout=60)
            with lock:
                if response.status_code == 201 and response.json().get("escalation"):
                    ids.append(response.json()["escalation"]["id"])
                else:
                    failures.append(f"{response.status_code}")

        threads = [threading.Thread(target=submit, args=job) for job in jobs]
        for thread in threads:
            thread.start()
        barrier.wait()
        released = time.perf_counter()
        for thread in threads:
            thread.join(120)
        all_201 = time.perf_counter()
        deadline = time.monotonic() + 30
        arrivals = []
        for escalation_id in ids:
            remaining = max(0.0, deadline - time.monotonic())
            arrived = stand_in.wait_for(escalation_id, timeout=remaining)
            if arrived is not None:
                arrivals.append(arrived)
        summary["burst"] = {
            "flags": args.burst,
            "escalations": len(set(ids)),
            "failed_requests": failures,
            "paged": len(arrivals),
            "all_201_s": round(all_201 - released, 3),
            "all_paged_s": round(max(arrivals) - released, 3) if arrivals else None,
        }
    finally:
        worker.stop()
        if server is not None:
            server.shutdown()
        if gunicorn is not None:
            gunicorn.terminate()
            gunicorn.wait(30)
        stand_in.server.shutdown()
        rt.database.dispose()
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
