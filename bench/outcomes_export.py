"""The cohort report and the FHIR Bulk Data export at 10,000 patients on PostgreSQL.

    .venv/bin/python bench/outcomes_export.py --database-url postgresql://postgres@127.0.0.1:5432/bench_fhir

The database's public schema is dropped and migrated (its name must contain "bench" or
"test"). Two clinics are bulk-loaded: "big" with 10,000 patients and "small" with 1,000, each
patient with 30 PHQ-9 check-ins and 6 sessions of 4 vitals readings (big: 300,000 check-ins,
60,000 sessions, 240,000 readings).

1. GET /api/v1/clinics/{big}/outcomes through the real app (Flask test client, PostgreSQL):
   5 warm-ups, then 40 timed requests; p50/p95/p99/max. Target p99 < 1 s.
2. Bulk Data $export of each clinic: kick-off, manifest, then every NDJSON file streamed
   unbuffered and discarded. The process's resident memory is sampled every 20 ms during the
   streaming; the peak above the level before the export is reported for 1,000 and 10,000
   patients. Bounded memory means the two peaks are about the same while the output grows
   tenfold (target: the 10,000-patient peak < 1.5 x the 1,000-patient peak + 16 MB).
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/bench_fhir"
PASSWORD = "correct horse battery"
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
CHECKINS = 30
SESSIONS = 6
READINGS = 4


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


class RssSampler:
    """The peak resident set size seen while running, sampled on a thread."""

    def __init__(self) -> None:
        self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def load(database: Any, *, clinic_id: int, clinician_id: int, patients: int, first_id: int) -> None:
    """Bulk-insert patients with screenings, check-ins, sessions and vitals (core inserts)."""
    from clinical import phq9
    from store.models import EligibilityScreening, PatientProfile, User
    from store.reports import Phq9Checkin
    from store.schedule import TreatmentSession, VitalsReading

    rng = random.Random(clinic_id)
    users, profiles, screenings, checkins, sessions, vitals = [], [], [], [], [], []
    session_id = first_id * SESSIONS
    reading_id = session_id * READINGS
    for n in range(patients):
        uid = first_id + n
        enrolled = NOW - timedelta(days=rng.randint(40, 700))
        baseline = rng.randint(8, 25)
        users.append(
            {
                "id": uid,
                "role": "patient",
                "clinic_id": clinic_id,
                "name": f"Bench {uid}",
                "email": None,
                "phone": None,
                "password_hash": None,
                "is_active": True,
                "on_call_tier": None,
                "sms_opted_out": False,
                "created_at": enrolled,
            }
        )
        profiles.append(
            {
                "user_id": uid,
                "clinic_id": clinic_id,
                "timezone": "America/New_York",
                "bipolar": n % 10 == 0,
                "weight_kg": 70.0,
                "phase": "maintenance",
                "maintenance_interval_days": 3,
                "acute_target_sessions": SESSIONS,
                "status": "enrolled",
                "enrolled_at": enrolled,
                "enrolled_by": clinician_id,
                "baseline_phq9": baseline,
                "baseline_instrument": "PHQ-9",
                "baseline_score": baseline,
            }
        )
        screenings.append(
            {
                "clinic_id": clinic_id,
                "screened_by": clinician_id,
                "patient_id": uid,
                "answers": {"prior_inadequate_response": [rng.choice(["tms", "ketamine"])]},
                "eligible": True,
                "unmet": {},
                "rules_version": "bench",
                "screened_at": enrolled,
            }
        )
        start = enrolled + timedelta(days=3)
        end = rng.randint(2, baseline)
        for s in range(SESSIONS):
            session_id += 1
            at = start + timedelta(days=2 * s)
            sessions.append(
                {
                    "id": session_id,
                    "patient_id": uid,
                    "clinic_id": clinic_id,
                    "started_at": at,
                    "ketamine_mg_per_kg": 0.5,
                    "ketamine_infusion_minutes": 40,
                    "tms_minutes": 30,
                    "recorded_by": clinician_id,
                    "recorded_at": at + timedelta(hours=2),
                }
            )
            for r in range(READINGS):
                reading_id += 1
                vitals.append(
                    {
                        "id": reading_id,
                        "session_id": session_id,
                        "at": at + timedelta(minutes=15 * r),
                        "systolic": 120 + r,
                        "diastolic": 80,
                        "heart_rate": 72,
                    }
                )
        for c in range(CHECKINS):
            at = start + timedelta(days=2 * c + 1, hours=2)
            total = max(
                0,
                min(
                    27,
                    round(baseline + (end - baseline) * min(1, c / SESSIONS)) + rng.randint(-2, 2),
                ),
            )
            answers = [min(3, max(0, total - 3 * i)) for i in range(8)] + [0]
            if sum(answers) != total:
                answers = [min(3, total // 8 + (1 if i < total % 8 else 0)) for i in range(8)] + [0]
                total = sum(answers)
            checkins.append(
                {
                    "patient_id": uid,
                    "clinic_id": clinic_id,
                    "answers": answers,
                    "difficulty": 1,
                    "total": total,
                    "prorated": False,
                    "answered_count": 9,
                    "severity": phq9.severity(total),
                    "item9": 0,
                    "flags": [],
                    "instrument_version": phq9.VERSION,
                    "rules_version": "bench",
                    "answered_at": at,
                    "received_at": at,
                }
            )
    with database.engine.begin() as conn:
        for table, rows in (
            (User, users),
            (PatientProfile, profiles),
            (EligibilityScreening, screenings),
            (TreatmentSession, sessions),
            (VitalsReading, vitals),
            (Phq9Checkin, checkins),
        ):
            for i in range(0, len(rows), 5000):
                conn.execute(insert(table), rows[i : i + 5000])
        for table in ("users", "treatment_sessions", "vitals_readings"):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--reuse", action="store_true", help="keep the data a previous run loaded")
    parser.add_argument("--skip-export", action="store_true")
    args = parser.parse_args()
    name = args.database_url.rsplit("/", 1)[-1]
    if "bench" not in name and "test" not in name:
        raise SystemExit("refusing to wipe a database whose name has neither 'bench' nor 'test'")

    from api.app import create_app
    from config import load_settings
    from services import clinics
    from store import Database, migrate
    from store.clock import FrozenClock

    database = Database(args.database_url)
    sizes = {"big": args.patients, "small": args.patients // 10}
    ids: dict[str, tuple[int, str]] = {}
    load_seconds = 0.0
    if args.reuse:
        with database.engine.connect() as conn:
            for label in sizes:
                cid = conn.execute(text("SELECT id FROM clinics WHERE name = :n"), {"n": label})
                ids[label] = (cid.scalar_one(), f"{label}@bench.test")
    else:
        with database.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        migrate.upgrade(args.database_url)
        with database.unit_of_work() as s:
            for label in sizes:
                clinic = clinics.create_clinic(
                    s, actor=None, name=label, timezone="America/New_York", policy=None, now=NOW
                )
                email = f"{label}@bench.test"
                staff = clinics.create_staff(
                    s,
                    actor=None,
                    role="clinician",
                    name=label,
                    email=email,
                    phone="+12025550190" if label == "big" else "+12025550191",
                    password=PASSWORD,
                    clinic_id=clinic.id,
                    on_call_tier=1,
                    now=NOW,
                )
                ids[label] = (clinic.id, email)
                s.flush()
                ids[label + "_staff"] = (staff.id, email)
        t0 = time.perf_counter()
        first = 100_000
        for label, count in sizes.items():
            load(
                database,
                clinic_id=ids[label][0],
                clinician_id=ids[label + "_staff"][0],
                patients=count,
                first_id=first,
            )
            first += count + 1000
        with database.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        load_seconds = time.perf_counter() - t0

    settings = load_settings(
        {
            "TANDEM_ENV": "test",
            "DATABASE_URL": args.database_url,
            "SCHEDULER_ENABLED": "false",
            "TANDEM_INSTANCE_PATH": tempfile.mkdtemp(prefix="tandem-bench-fhir-"),
        },
        dotenv_path=None,
    )
    from services.runtime import Runtime

    rt = Runtime.from_settings(settings, clock=FrozenClock(NOW))
    app = create_app(rt=rt)
    client = app.test_client()

    def headers(label: str) -> dict[str, str]:
        r = client.post(
            "/api/v1/auth/login", json={"username": ids[label][1], "password": PASSWORD}
        )
        assert r.status_code == 200, r.get_json()
        return {"Authorization": f"Bearer {r.get_json()['access_token']}"}

    # The export first, in a process that has not yet grown its heap on anything else.
    exports: dict[str, Any] = {}
    for label in () if args.skip_export else ("small", "big"):
        h = headers(label)
        kick = client.get("/fhir/R4/$export", headers={**h, "Prefer": "respond-async"})
        assert kick.status_code == 202
        status = kick.headers["Content-Location"].split("localhost", 1)[1]
        manifest = client.get(status, headers=h).get_json()
        before = rss_bytes()
        lines = size = 0
        t = time.perf_counter()
        with RssSampler() as sampler:
            for output in manifest["output"]:
                file_url = output["url"].split("localhost", 1)[1]
                response = client.get(file_url, headers=h, buffered=False)
                assert response.status_code == 200
                for chunk in response.response:
                    size += len(chunk)
                    lines += chunk.count(b"\n")
                response.close()
        exports[label] = {
            "patients": sizes[label],
            "ndjson_lines": lines,
            "ndjson_mb": round(size / 1e6, 1),
            "seconds": round(time.perf_counter() - t, 1),
            "rss_before_mb": round(before / 1e6, 1),
            "peak_rss_above_before_mb": round((sampler.peak - before) / 1e6, 1),
        }
    big = headers("big")
    url = f"/api/v1/clinics/{ids['big'][0]}/outcomes"
    for _ in range(5):
        assert client.get(url, headers=big).status_code == 200
    timings = []
    for _ in range(args.requests):
        t = time.perf_counter()
        r = client.get(url, headers=big)
        timings.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200
    report = r.get_json()
    t = time.perf_counter()
    csv_response = client.get(url, headers={**big, "Accept": "text/csv"})
    csv_ms = (time.perf_counter() - t) * 1000

    bounded = bool(exports) and exports["big"]["peak_rss_above_before_mb"] < (
        1.5 * exports["small"]["peak_rss_above_before_mb"] + 16
    )
    print(
        json.dumps(
            {
                "load_seconds": round(load_seconds, 1),
                "cohort_report": {
                    "patients": report["patients"],
                    "checkins": args.patients * CHECKINS,
                    "requests": len(timings),
                    "p50_ms": round(percentile(timings, 50), 1),
                    "p95_ms": round(percentile(timings, 95), 1),
                    "p99_ms": round(percentile(timings, 99), 1),
                    "max_ms": round(max(timings), 1),
                    "csv_ms": round(csv_ms, 1),
                    "csv_rows": csv_response.get_data(as_text=True).count("\n") - 1,
                    "target_p99_ms": 1000,
                    "pass": percentile(timings, 99) < 1000,
                },
                "export": {**exports, "bounded": bounded},
            },
            indent=2,
        )
    )
    database.dispose()
    rt.database.dispose()


if __name__ == "__main__":
    main()
