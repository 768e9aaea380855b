"""Throughput cost of metrics and JSON logging on the PHQ-9 POST, as a ratio (target >= 0.95).

Two gunicorn servers with the shipped gunicorn.conf.py (2 gthread workers x 4 threads) on
one PostgreSQL database, serving the production app:

* "off": no METRICS_TOKEN (no request timing, no /metrics) and LOG_LEVEL=WARNING;
* "on": METRICS_TOKEN set (every request timed into prometheus-client's multiprocess
  files) and JSON logs at INFO (the app's and gunicorn's; no access log).

They are measured in alternating slices (this host is shared, and sequential phases drift
with its load), with the closed-loop generator of bench/phq9_throughput.py. Prints JSON.

    .venv/bin/python -m bench.ops_overhead --db-url postgresql://postgres@127.0.0.1:5432/bench_ops
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.phq9_throughput import (
    PHQ9_URL,
    Samples,
    closed_loop,
    phq9_body,
    prepare_database,
    wait_ready,
)

ROOT = Path(__file__).resolve().parents[1]
RATIO_TARGET = 0.95


def start(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "-b",
            f"127.0.0.1:{port}",
            "api.wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench_ops"
        ),
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0, help="per server, in total")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--patients", type=int, default=90)
    args = parser.parse_args(argv)
    instance = tempfile.mkdtemp(prefix="tandem-ops-bench-")
    base = {
        **os.environ,
        "TANDEM_ENV": "development",
        "DATABASE_URL": args.db_url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "SMS_BACKEND": "log",
        # The throughput of the request path, not of the timers.
        "SCHEDULER_ENABLED": "false",
        "TANDEM_INSTANCE_PATH": instance,
        "PYTHONPATH": str(ROOT),
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "4",
    }
    base.pop("METRICS_TOKEN", None)
    tokens = prepare_database(args.db_url, patients=args.patients, env=base)
    off_env = {**base, "LOG_LEVEL": "WARNING"}
    on_env = {
        **base,
        "LOG_LEVEL": "INFO",
        "METRICS_TOKEN": secrets.token_hex(16),
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="tandem-ops-metrics-"),
    }
    off_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    ports = {"off": 8771, "on": 8772}
    servers = {"off": start(ports["off"], off_env), "on": start(ports["on"], on_env)}
    results: dict[str, Any] = {}
    try:
        for port in ports.values():
            wait_ready(port)
        collected = {name: Samples() for name in ports}
        spent = dict.fromkeys(ports, 0.0)
        for port in ports.values():  # warm-up
            closed_loop(port, PHQ9_URL, phq9_body, tokens, concurrency=args.concurrency, seconds=3)
        for n in range(args.rounds):
            order = ("off", "on") if n % 2 == 0 else ("on", "off")
            for name in order:
                _, took = closed_loop(
                    ports[name],
                    PHQ9_URL,
                    phq9_body,
                    tokens,
                    concurrency=args.concurrency,
                    seconds=args.seconds / args.rounds,
                    samples=collected[name],
                )
                spent[name] += took
        for name in ports:
            results[name] = collected[name].summary(spent[name])
    finally:
        for server in servers.values():
            server.send_signal(signal.SIGTERM)
        for server in servers.values():
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
    ratio = results["on"]["rps"] / results["off"]["rps"] if results["off"]["rps"] else 0.0
    print(
        json.dumps(
            {
                "config": {
                    "gunicorn": "gunicorn.conf.py: 2 gthread workers x 4 threads",
                    "concurrency": args.concurrency,
                    "seconds_per_server": args.seconds,
                    "rounds": args.rounds,
                    "cpus": os.cpu_count(),
                    "loadavg_after": [round(x, 2) for x in os.getloadavg()],
                },
                "off": results["off"],
                "on": results["on"],
                "ratio_on_to_off": round(ratio, 3),
                "target": {"ratio_min": RATIO_TARGET, "ok": ratio >= RATIO_TARGET},
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
