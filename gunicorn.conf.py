"""gunicorn settings for Tandem: ``gunicorn -c gunicorn.conf.py api.wsgi:app``.

The settings the benchmarks used (bench/README.md): gthread workers, 2 workers x 4 threads
by default (``WEB_CONCURRENCY`` / ``GUNICORN_THREADS`` change them), a 2048 backlog.
Each worker imports the app after the fork (no preload), so its outbox dispatcher and timer
standby threads (api/wsgi.py) run in the worker that serves.

Metrics: prometheus-client's multiprocess mode needs ``PROMETHEUS_MULTIPROC_DIR`` set before
any worker imports it; this file sets it (a fresh folder unless given), empties it when the
master starts, and marks each dead worker's files in ``child_exit``.

Logs: gunicorn's own error and access logs are JSON lines on stderr like the app's.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
backlog = 2048
timeout = 60
graceful_timeout = 20
keepalive = 5
# Never preload: the safety-path threads must start in each worker, after the fork.
preload_app = False
# The access log costs a line per request; turn it on with GUNICORN_ACCESS_LOG=1.
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG") == "1" else None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

_multiproc = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(
    prefix="tandem-metrics-"
)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _multiproc

logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "api.logs.TandemJsonFormatter"}},
    "filters": {"request_id": {"()": "api.logs.RequestIdFilter"}},
    "handlers": {
        # The same name as api.logs' handler, so the app's configure_logging replaces it.
        "tandem-json": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": loglevel.upper(), "handlers": ["tandem-json"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": True},
    },
}


def on_starting(_server: Any) -> None:
    """A fresh metrics folder: files of an earlier master's workers would be summed in."""
    folder = Path(_multiproc)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def child_exit(_server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges (its counters stay in the sums)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
