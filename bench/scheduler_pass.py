"""Benchmark: one reminder pass over 10,000 and 100,000 enrolled patients on PostgreSQL.

Each size gets a fresh bench database with 1,000 reminders due and every other patient's
tasks reminded later; one `queue_due_reminders` pass is timed several times (state reset
between runs) and the median reported. The pass should cost what is due, not how many
patients there are: under 2 s, and within 20 % between the two sizes.

    .venv/bin/python bench/scheduler_pass.py [postgresql://postgres@127.0.0.1:5432/bench_schedule]

Prints JSON. The database named is wiped.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text

from config import load_settings
from notifications.log_sms import LogSmsSender
from schedules import runs
from services import reminders
from services.runtime import Runtime
from store import Database, migrate
from store.clock import FrozenClock
from store.models import Base, OutboxMessage

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/bench_schedule"
SIZES = (10_000, 100_000)
DUE = 1_000
TASKS_PER_PATIENT = 3
RUNS = 7
# 12:00 in New York, 09:00 in Los Angeles, 17:00 in London: outside everyone's quiet hours.
NOW = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
ZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London")


def fresh_schema(url: str) -> str:
    """Wipe the database and build the schema with the migrations (models if they lag)."""
    database = Database(url)
    try:
        with database.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        migrate.upgrade(url)
        with database.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            pending = compare_metadata(context, Base.metadata)
        if not pending:
            return "migrations"
        # Model changes not yet in a migration (the lead regenerates them): use the models.
        with database.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        Base.metadata.create_all(database.engine)
        return "models (migrations pending regeneration)"
    finally:
        database.dispose()


def phone(index: int) -> str:
    """Fictional numbers only: 555-01xx, spread over area codes 200-209."""
    return f"+1{200 + index // 100}55501{index % 100:02d}"


def load(database: Database, patients: int) -> list[int]:
    """Bulk-load a clinic, its patients and their tasks with COPY; returns the due task ids."""
    with database.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO clinics (id, name, timezone, escalation_policy, escalation_rules, "
                "created_at) VALUES (1, 'Bench clinic', 'America/New_York', '{}', '{}', :now)"
            ),
            {"now": NOW},
        )
    enrolled = NOW - timedelta(days=30)
    due_ids: list[int] = []
    raw = database.engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        with driver.cursor() as cur:
            with cur.copy(
                "COPY users (id, role, clinic_id, name, phone, is_active, "
                "sms_opted_out, created_at) FROM STDIN"
            ) as copy:
                for i in range(patients):
                    copy.write_row(
                        (
                            i + 1,
                            "patient",
                            1,
                            f"Bench {i}",
                            phone(i) if i < DUE else None,
                            True,
                            False,
                            enrolled,
                        )
                    )
            with cur.copy(
                "COPY patients (user_id, clinic_id, timezone, bipolar, weight_kg, "
                "phase, maintenance_interval_days, acute_target_sessions, status, "
                "enrolled_at) FROM STDIN"
            ) as copy:
                for i in range(patients):
                    copy.write_row(
                        (
                            i + 1,
                            1,
                            ZONES[i % len(ZONES)],
                            False,
                            70.0,
                            "maintenance",
                            3,
                            6,
                            "enrolled",
                            enrolled,
                        )
                    )
            with cur.copy(
                "COPY tasks (id, patient_id, clinic_id, key, kind, reason, due_at, "
                "expires_at, status, remind_at, reminders_sent, reminder_step, "
                "created_at, updated_at) FROM STDIN"
            ) as copy:
                task_id = 0
                for i in range(patients):
                    for j in range(TASKS_PER_PATIENT):
                        task_id += 1
                        if j == 0 and i < DUE:
                            due = NOW - timedelta(minutes=1 + i % 50)
                            due_ids.append(task_id)
                        else:
                            # Reminded later: hours to weeks ahead, spread over the index.
                            due = NOW + timedelta(hours=1 + (i * TASKS_PER_PATIENT + j) % 500)
                        copy.write_row(
                            (
                                task_id,
                                i + 1,
                                1,
                                f"bench:{j}",
                                "phq9",
                                "PHQ-9 after a session",
                                due,
                                due + timedelta(days=3),
                                "open",
                                due,
                                0,
                                0,
                                enrolled,
                                enrolled,
                            )
                        )
            cur.execute("SELECT setval('users_id_seq', %s)", (patients,))
            cur.execute("SELECT setval('tasks_id_seq', %s)", (task_id,))
            cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return due_ids


def reset(database: Database, due_ids: list[int]) -> None:
    """Put the due reminders back as they were before a pass."""
    with database.engine.begin() as conn:
        conn.execute(text("DELETE FROM sms_outbox"))
        conn.execute(
            text(
                "UPDATE tasks SET remind_at = due_at, reminder_step = 0, reminders_sent = 0 "
                "WHERE id = ANY(:ids)"
            ),
            {"ids": due_ids},
        )


def explain(database: Database) -> list[str]:
    query = reminders.due_reminder_query(database.engine, now=NOW, limit=DUE)
    compiled = query.compile(database.engine, compile_kwargs={"literal_binds": True})
    with database.engine.connect() as conn:
        return [row[0] for row in conn.execute(text(f"EXPLAIN {compiled}"))]


def measure(url: str, patients: int) -> dict[str, Any]:
    schema = fresh_schema(url)
    database = Database(url)
    started = time.perf_counter()
    due_ids = load(database, patients)
    loaded = time.perf_counter() - started
    settings = load_settings(
        {"TANDEM_ENV": "test", "DATABASE_URL": url, "SCHEDULER_ENABLED": "false"}, dotenv_path=None
    )
    rt = Runtime.from_settings(
        settings, database=database, sms=LogSmsSender(), clock=FrozenClock(NOW)
    )
    timings = []
    for _ in range(RUNS):
        reset(database, due_ids)
        t0 = time.perf_counter()
        handled = runs.reminder_batch(rt, limit=DUE)
        timings.append(time.perf_counter() - t0)
        assert handled == DUE, handled
        with database.session() as session:
            queued = session.scalar(select(func.count()).select_from(OutboxMessage))
        assert queued == DUE, queued
    plan = explain(database)
    database.dispose()
    return {
        "patients": patients,
        "tasks": patients * TASKS_PER_PATIENT,
        "due": DUE,
        "schema": schema,
        "load_seconds": round(loaded, 2),
        "pass_seconds": [round(t, 4) for t in timings],
        "median_seconds": round(statistics.median(timings), 4),
        "uses_remind_at_index": any("ix_tasks_remind_at" in line for line in plan),
        "plan": plan,
    }


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_URL
    results = [measure(url, n) for n in SIZES]
    small, large = results
    ratio = large["median_seconds"] / small["median_seconds"]
    print(
        json.dumps(
            {
                "results": results,
                "ratio_100k_to_10k": round(ratio, 3),
                "target": {"pass_seconds_below": 2.0, "difference_below": 0.20},
                "met": all(r["median_seconds"] < 2.0 for r in results) and abs(ratio - 1) < 0.20,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
