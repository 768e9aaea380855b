"""``GET /metrics``: Prometheus text, behind ``METRICS_TOKEN``, correct across workers.

Two kinds of series:

* per process (HTTP durations, SMS outcomes, page latency): prometheus-client objects; under
  gunicorn they live in ``PROMETHEUS_MULTIPROC_DIR`` and every scrape sums all workers'
  files (gunicorn.conf.py marks dead workers in ``child_exit``);
* from the database (outbox backlog, unacknowledged escalations, the timer leader, each
  job's last success): computed at scrape time by :class:`DatabaseCollector`, so they are
  the same whichever worker answers and whichever process ran the job.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterator

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from api.errors import problem
from services import operations
from services.runtime import Runtime

log = logging.getLogger("tandem.metrics")

HTTP_DURATION = Histogram(
    "tandem_http_request_duration_seconds",
    "HTTP requests by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        now = self.rt.clock.now()
        pending = GaugeMetricFamily(
            "tandem_outbox_pending", "Outbox messages not yet sent or failed."
        )
        oldest = GaugeMetricFamily(
            "tandem_outbox_oldest_pending_seconds",
            "How long the oldest due outbox message has waited.",
        )
        unacked = GaugeMetricFamily(
            "tandem_escalations_unacknowledged",
            "Open escalations nobody has acknowledged.",
            labels=["priority"],
        )
        unacked_age = GaugeMetricFamily(
            "tandem_escalation_oldest_unacknowledged_seconds",
            "Age of the oldest unacknowledged escalation.",
            labels=["priority"],
        )
        jobs = GaugeMetricFamily(
            "tandem_job_last_success_timestamp_seconds",
            "When each timer job last succeeded (Unix time), whichever process ran it.",
            labels=["job"],
        )
        leader = GaugeMetricFamily(
            "tandem_timer_leader",
            'Who leads the timers: 1 for the holder\'s role ("scheduler", or "api" in a takeover).',
            labels=["role"],
        )
        heartbeat = GaugeMetricFamily(
            "tandem_timer_heartbeat_age_seconds", "Age of the timer leader's last heartbeat."
        )
        try:
            with self.rt.database.unit_of_work() as session:
                count, age = operations.outbox_backlog(session, now)
                pending.add_metric([], count)
                oldest.add_metric([], age)
                for priority, (n, age) in sorted(operations.unacknowledged(session, now).items()):
                    unacked.add_metric([priority], n)
                    unacked_age.add_metric([priority], age)
                for job, at in sorted(operations.job_successes(session).items()):
                    jobs.add_metric([job], at.timestamp())
                lease = operations.timer_lease(session)
                for role in (operations.SCHEDULER_ROLE, operations.API_ROLE):
                    leader.add_metric([role], 1.0 if lease and lease.role == role else 0.0)
                if lease is not None:
                    heartbeat.add_metric([], max(0.0, (now - lease.heartbeat_at).total_seconds()))
        except Exception:
            # The scrape still answers; the missing series (and /readyz) tell the story.
            log.warning("metrics: the database could not be read", exc_info=True)
            return
        yield from (pending, oldest, unacked, unacked_age, jobs, leader, heartbeat)


def render(rt: Runtime) -> bytes:
    """Every series: this process's (or all workers') plus the database's."""
    if rt.settings.prometheus_multiproc_dir:
        process_registry = CollectorRegistry()
        MultiProcessCollector(  # type: ignore[no-untyped-call]
            process_registry, path=rt.settings.prometheus_multiproc_dir
        )
    else:
        process_registry = REGISTRY
    database_registry = CollectorRegistry(auto_describe=False)
    database_registry.register(DatabaseCollector(rt))
    return generate_latest(process_registry) + generate_latest(database_registry)


def register_metrics(app: Flask, rt: Runtime) -> None:
    """Serve /metrics and time every request, only when METRICS_TOKEN is set."""
    token = rt.settings.metrics_token
    if not token:
        # Nobody could read the series: keep the request path free of their cost.
        return

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("metrics_started")
        if started is not None:
            # The route template, never the raw path: ids would explode the label set.
            rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
            HTTP_DURATION.labels(request.method, rule, str(response.status_code)).observe(
                time.perf_counter() - started
            )
        return response

    expected = f"Bearer {token}".encode()

    @app.get("/metrics")
    def metrics() -> Response:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return problem(
                401,
                "Send the metrics token as a Bearer token.",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return Response(render(rt), content_type=CONTENT_TYPE_LATEST)
