"""/metrics: absent without METRICS_TOKEN, 401 without the right token, the named series."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from config import Settings
from notifications.outbox import enqueue_sms
from schedules.leader import API, LeaseStore
from services.runtime import Runtime
from store.clock import FrozenClock

TOKEN = "metrics-" + "t" * 32


@pytest.fixture
def metered(settings: Settings, rt: Runtime) -> FlaskClient:
    rt.settings = settings.with_overrides(metrics_token=TOKEN)
    return create_app(rt=rt).test_client()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_are_absent_without_a_configured_token(client: FlaskClient) -> None:
    response = client.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 404
    assert "tandem_" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"bearer{TOKEN}"],
)
def test_metrics_without_the_right_token_are_refused(
    metered: FlaskClient, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = metered.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert "tandem_" not in response.get_data(as_text=True)


def test_the_named_series_are_served(metered: FlaskClient, rt: Runtime, clock: FrozenClock) -> None:
    started = clock.now() - timedelta(seconds=31)
    LeaseStore(rt.database, rt.clock, role=API, holder="api:test", started_at=started).tick()
    with rt.database.unit_of_work() as session:
        enqueue_sms(session, to="+12025550111", body="Tandem: hi.", purpose="page", now=clock.now())
    clock.advance(timedelta(seconds=42))
    metered.get("/healthz")
    response = metered.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    found = samples(text)
    assert found[("tandem_outbox_pending", ())] == 1
    assert found[("tandem_outbox_oldest_pending_seconds", ())] == 42
    assert found[("tandem_escalations_unacknowledged", (("priority", "urgent"),))] == 0
    assert ("tandem_escalation_oldest_unacknowledged_seconds", (("priority", "urgent"),)) in found
    assert found[("tandem_timer_leader", (("role", "api"),))] == 1
    assert found[("tandem_timer_leader", (("role", "scheduler"),))] == 0
    for name in (
        "tandem_page_latency_seconds",
        "tandem_sms_sent_total",
        "tandem_http_request_duration_seconds",
        "tandem_job_last_success_timestamp_seconds",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
    assert any(
        name == "tandem_http_request_duration_seconds_count"
        and dict(labels) == {"method": "GET", "route": "/healthz", "status": "200"}
        for name, labels in found
    )
    # Sending the page moves the counters and the histogram.
    rt.dispatcher.drain()
    after = samples(
        metered.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True)
    )
    assert after[("tandem_outbox_pending", ())] == 0
    assert after[("tandem_sms_sent_total", (("result", "sent"),))] >= 1
    assert after[("tandem_page_latency_seconds_count", ())] >= 1
