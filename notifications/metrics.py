"""Process-local Prometheus series of the SMS path (aggregated across gunicorn workers).

prometheus-client switches to its multiprocess mode by itself when
``PROMETHEUS_MULTIPROC_DIR`` is set before it is first imported (gunicorn.conf.py sets it);
api/metrics.py then reads every worker's files at scrape time.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

SMS_SENT = Counter(
    "tandem_sms_sent",
    "SMS send attempts by outcome: sent, retry (will be tried again) or failed (for good).",
    ["result"],
)
PAGE_LATENCY = Histogram(
    "tandem_page_latency_seconds",
    "From the commit that queued a page to Twilio's acceptance of it.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
)
