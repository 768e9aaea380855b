"""Hand-off to a clinic's own pager: PagerDuty Events API v2 events through the outbox.

Per clinic, ``escalation_policy.events_url`` + ``events_routing_key`` turn it on. Each
escalation is one alert whose ``dedup_key`` is the escalation id: ``trigger`` when it
starts paging (again on a re-page or a raise), ``acknowledge`` when a clinician
acknowledges it in Tandem, ``resolve`` only when it is resolved in Tandem. An
acknowledgement never resolves the pager's incident. Events carry no PHI: the id, the
priority and a fixed summary only. The events are outbox rows on the "pager" channel,
so they get the outbox's retries (429 and 5xx back off; other 4xx fail for good, recorded)
and are sent in the order they were queued for one escalation.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from clinical.vocabulary import Priority
from notifications import texts
from notifications.outbox import Channel, NewSms, enqueue_many
from notifications.sms import SendResult, SmsError, is_retryable_response
from store.escalations import Escalation
from store.models import Clinic, OutboxMessage

PURPOSE = "pager_event"
CHANNEL = Channel.PAGER
ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITY: dict[str, str] = {
    Priority.URGENT: "critical",
    Priority.HIGH: "error",
    Priority.ROUTINE: "info",
}
# Ahead of reminders, as pages are; the order among one escalation's events is by id.
OUTBOX_PRIORITY = 90


def dedup_key(escalation_id: int) -> str:
    """The pager's alert key: the escalation id, so every event lands on one incident."""
    return str(escalation_id)


def event_body(*, action: str, escalation: Escalation, routing_key: str) -> dict[str, Any]:
    """One Events API v2 event; only ``trigger`` carries a payload, and it has no PHI."""
    if action not in ACTIONS:
        raise ValueError(f"unknown pager action {action!r}")
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key(escalation.id),
    }
    if action == "trigger":
        event["payload"] = {
            "summary": texts.pager_summary(
                escalation_id=escalation.id, priority=escalation.priority
            ),
            "source": "tandem",
            "severity": SEVERITY.get(escalation.priority, "warning"),
            "custom_details": {"escalation_id": escalation.id, "priority": escalation.priority},
        }
    return event


def pager_config(session: Session, clinic_id: int) -> tuple[str, str] | None:
    """The clinic's (events_url, routing_key), or None when it has no pager hand-off."""
    clinic = session.get(Clinic, clinic_id)
    policy = (clinic.escalation_policy if clinic else None) or {}
    url, key = policy.get("events_url"), policy.get("events_routing_key")
    if isinstance(url, str) and url and isinstance(key, str) and key:
        return url, key
    return None


def queue_event(session: Session, *, escalation: Escalation, action: str, now: datetime) -> bool:
    """Queue one event for the clinic's pager in the caller's transaction (False: none set)."""
    config = pager_config(session, escalation.clinic_id)
    if config is None:
        return False
    url, key = config
    if action != "trigger" and not _triggered(session, escalation.id):
        return False  # the pager never heard of it (e.g. a routine one): nothing to update
    # One trigger and one acknowledge per chain (a re-page triggers again); one resolve.
    suffix = "" if action == "resolve" else f":{escalation.chain}"
    enqueue_many(
        session,
        [
            NewSms(
                to="",
                target=url,
                channel=CHANNEL,
                body=json.dumps(event_body(action=action, escalation=escalation, routing_key=key)),
                purpose=PURPOSE,
                escalation_id=escalation.id,
                dedupe_key=f"pager:{escalation.id}:{action}{suffix}",
                priority=OUTBOX_PRIORITY,
            )
        ],
        now=now,
    )
    return True


def _triggered(session: Session, escalation_id: int) -> bool:
    return (
        session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.escalation_id == escalation_id,
                OutboxMessage.channel == CHANNEL,
                OutboxMessage.dedupe_key.startswith(f"pager:{escalation_id}:trigger"),
            )
        ).first()
        is not None
    )


class EventsApiSender:
    """The outbox's "pager" channel: POSTs the row's JSON body to the row's target URL."""

    def __init__(self, *, timeout: float = 10.0) -> None:
        self._timeout = timeout
        self._session = requests.Session()

    def send(self, *, to: str, body: str, status_callback: str | None = None) -> SendResult:
        """Post one event; 202 is accepted, 429/5xx and network trouble retry, 4xx do not."""
        try:
            response = self._session.post(
                to,
                data=body.encode("utf-8"),
                headers={"Content-Type": "application/json"},
                timeout=self._timeout,
                allow_redirects=False,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            # Nothing (or not all) came back: the event may not have arrived, so send again.
            name = type(exc).__name__
            raise SmsError(f"Events API unreachable: {name}", retryable=True) from exc
        except requests.RequestException as exc:
            name = type(exc).__name__
            raise SmsError(f"Events API request failed: {name}", retryable=False) from exc
        if 200 <= response.status_code < 300:
            return SendResult(sid=dedup_key_of(body), status="accepted")
        retryable = is_retryable_response(http_status=response.status_code, code=None)
        retry_after = response.headers.get("Retry-After")
        raise SmsError(
            f"Events API HTTP {response.status_code}: {response.text[:300]}",
            retryable=retryable,
            http_status=response.status_code,
            retry_after=_seconds(retry_after) if retryable else None,
        )

    def close(self) -> None:
        self._session.close()


def dedup_key_of(body: str) -> str:
    """The dedup_key of a queued event body (recorded as the row's provider id)."""
    try:
        return str(json.loads(body).get("dedup_key", ""))[:64]
    except (ValueError, AttributeError):
        return ""


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
