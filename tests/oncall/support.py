"""Helpers for the on-call tests: extra clinicians, a schedule body, a Calls API stand-in."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from services import clinics
from services.runtime import Runtime
from store.models import AuditEvent, OutboxMessage
from store.oncall import OnCallSchedule
from tests.escalations.support import ACCOUNT_SID
from tests.support.world import World

CALLS_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
DR_A, DR_B = "+12025550111", "+12025550112"


def add_clinician(
    rt: Runtime, clinic_id: int, *, email: str, phone: str, tier: int | None = None
) -> int:
    with rt.database.unit_of_work() as s:
        return clinics.create_staff(
            s,
            actor=None,
            role="clinician",
            name=email.split("@")[0],
            email=email,
            phone=phone,
            password=World.PASSWORD,
            clinic_id=clinic_id,
            on_call_tier=tier,
            now=rt.clock.now(),
        ).id


def rotation(
    members: list[int], *, starts_on: str, handoff: str = "08:00", days: int = 7
) -> dict[str, Any]:
    return {"rotation": members, "handoff": handoff, "length_days": days, "starts_on": starts_on}


def stored_schedule(rt: Runtime, clinic_id: int) -> tuple[Any, Any] | None:
    with rt.database.unit_of_work() as s:
        row = s.get(OnCallSchedule, clinic_id)
        return None if row is None else (dict(row.tiers), dict(row.overrides))


def outbox(rt: Runtime, **where: Any) -> list[OutboxMessage]:
    with rt.database.unit_of_work() as s:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return list(s.scalars(query))


def audit_actions(rt: Runtime) -> list[str]:
    with rt.database.unit_of_work() as s:
        return [a.action for a in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]


@dataclass
class CallsStandIn:
    """Twilio's Calls API on the same local server: records every call placed."""

    server: HTTPServer
    placed: list[dict[str, str]] = field(default_factory=list)
    _sids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # How many of the next calls to refuse as an invalid number (Twilio 21211, HTTP 400).
    refuse_next: int = 0

    def install(self) -> None:
        self.server.expect_request(CALLS_PATH, method="POST").respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        if self.refuse_next > 0:
            self.refuse_next -= 1
            error = {"code": 21211, "message": "Invalid 'To'", "status": 400, "more_info": "x"}
            return Response(json.dumps(error), status=400, content_type="application/json")
        sid = "CA" + f"{next(self._sids):032x}"
        self.placed.append({**form, "Sid": sid})
        return Response(
            json.dumps(
                {
                    "sid": sid,
                    "account_sid": ACCOUNT_SID,
                    "to": form.get("To"),
                    "from": form.get("From"),
                    "status": "queued",
                }
            ),
            status=201,
            content_type="application/json",
        )
