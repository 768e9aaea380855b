"""Benchmark: the web inbox page with 10,000 escalations in the clinic, against the JSON API.

One clinic, 200 patients and 10,000 escalations (400 open, 400 acknowledged, the rest
resolved; all three priorities). In process
(Flask's test client, so the figures are the app's own work: services, query, template),
``GET /inbox/`` and ``GET /api/v1/escalations`` each serve their first page (50 rows, the
same rows in the same order) RUNS times, interleaved so both see the same machine. Target:
inbox p99 < 150 ms; the ratio to the API says what the HTML costs over the JSON.

    .venv/bin/python bench/inbox_page.py [--db-url postgresql://postgres@127.0.0.1:5432/bench_inbox]

Without --db-url it uses a throwaway SQLite file. The database named is wiped. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text

from api.app import create_app
from config import load_settings
from notifications.log_sms import LogSmsSender
from services import clinics, patients
from services.runtime import Runtime
from store import Database
from store.clock import FrozenClock
from store.escalations import Escalation
from store.models import Base

NOW = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
ESCALATIONS = 10_000
PATIENTS = 200
RUNS = 300
PASSWORD = "bench horse battery staple"
SCREENING = {
    "failed_antidepressant_trials": 2,
    "prior_inadequate_response": ["ketamine"],
    "baseline": {"instrument": "PHQ-9", "score": 20},
    "medical_clearance": True,
    "cardiovascular_assessment": True,
    "uncontrolled_hypertension": False,
    "active_substance_use_disorder": False,
    "uncontrolled_seizure_disorder": False,
    "active_suicidal_ideation_requiring_intervention": False,
}


def build(url: str) -> Runtime:
    database = Database(url)
    if database.dialect == "postgresql":
        with database.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    Base.metadata.create_all(database.engine)
    settings = load_settings(
        {"TANDEM_ENV": "test", "DATABASE_URL": url, "SCHEDULER_ENABLED": "false"},
        dotenv_path=None,
    )
    rt = Runtime.from_settings(
        settings, database=database, sms=LogSmsSender(), clock=FrozenClock(NOW)
    )
    with database.unit_of_work() as session:
        clinic = clinics.create_clinic(
            session, actor=None, name="Bench", timezone="America/New_York", policy=None, now=NOW
        )
        clinician = clinics.create_staff(
            session,
            actor=None,
            role="clinician",
            name="Dr. Bench",
            email="bench@tandem.test",
            phone="+12025550170",
            password=PASSWORD,
            clinic_id=clinic.id,
            on_call_tier=1,
            now=NOW,
        )
        ids = []
        for n in range(PATIENTS):
            profile = patients.enroll_patient(
                session,
                clinician=clinician,
                now=NOW,
                data={
                    "name": f"Bench Patient {n}",
                    # Fictional 555-01xx numbers only, spread over three area codes.
                    "phone": f"+1{(312, 415, 617)[n // 100]}55501{n % 100:02d}",
                    "timezone": "America/New_York",
                    "bipolar": False,
                    "weight_kg": 70.0,
                    "care_team": [],
                    "screening": SCREENING,
                },
            )
            ids.append(profile.user_id)
        statuses, priorities = ("open", "acknowledged", "resolved"), ("urgent", "high", "routine")
        kinds = ("suicidality", "worsening", "hypertension", "relapse")
        rows = [
            {
                "clinic_id": clinic.id,
                "patient_id": ids[i % PATIENTS],
                "kind": kinds[(i // PATIENTS) % len(kinds)],
                "priority": priorities[i % 3],
                # One unresolved escalation per patient and kind at most (a unique index):
                # the first 800 are open or acknowledged, the long history is resolved.
                "status": statuses[i % 2] if i < PATIENTS * len(kinds) else statuses[2],
                "tier": 1,
                "cycle": 0,
                "chain": 0,
                "paging_exhausted": False,
                "created_at": NOW - timedelta(minutes=i),
                "updated_at": NOW - timedelta(minutes=i),
            }
            for i in range(ESCALATIONS)
        ]
        session.execute(insert(Escalation), rows)
    return rt


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db-url")
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    url = args.db_url or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    rt = build(url)
    app = create_app(rt=rt)
    web, api = app.test_client(), app.test_client()
    page = web.get("/inbox/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    signed = web.post(
        "/inbox/login",
        data={"username": "bench@tandem.test", "password": PASSWORD, "csrf_token": token[1]},
    )
    assert signed.status_code == 303, signed.status_code
    login = api.post(
        "/api/v1/auth/login", json={"username": "bench@tandem.test", "password": PASSWORD}
    )
    headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    html_ids = re.findall(r'data-escalation-id="(\d+)"', web.get("/inbox/").get_data(as_text=True))
    api_ids = [
        str(e["id"]) for e in api.get("/api/v1/escalations", headers=headers).get_json()["items"]
    ]
    assert html_ids == api_ids and len(html_ids) == 50, "the two must serve the same rows"
    timings: dict[str, list[float]] = {"inbox": [], "api": []}
    for _ in range(args.runs):
        for name, call in (
            ("inbox", lambda: web.get("/inbox/")),
            ("api", lambda: api.get("/api/v1/escalations", headers=headers)),
        ):
            start = time.perf_counter()
            response = call()
            timings[name].append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
    result = {
        "database": rt.database.dialect,
        "escalations": ESCALATIONS,
        "rows_per_page": 50,
        "runs": args.runs,
        **{
            name: {
                "p50_ms": round(statistics.median(values), 2),
                "p99_ms": round(percentile(values, 0.99), 2),
            }
            for name, values in timings.items()
        },
    }
    result["ratio_p50"] = round(result["inbox"]["p50_ms"] / result["api"]["p50_ms"], 2)
    result["ratio_p99"] = round(result["inbox"]["p99_ms"] / result["api"]["p99_ms"], 2)
    result["target_met"] = result["inbox"]["p99_ms"] < 150
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
