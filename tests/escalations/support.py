"""Helpers for the escalation and webhook tests: flags, a Twilio stand-in, SMS text checks."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from clinical.phq9 import score_phq9
from clinical.rules import Flag, phq9_flags
from notifications.twilio_sms import TwilioSmsSender, compute_twilio_signature
from services.escalations import EscalationRef, raise_escalations
from services.runtime import Runtime
from store.models import PatientProfile

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-auth-token-for-tests"
FROM_NUMBER = "+12025550199"
PUBLIC_BASE_URL = "https://tandem.example.org"
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"

# Words no SMS may carry: diagnoses, drugs, procedures, instruments, scores, answers and
# the names the test world gives its patients.
FORBIDDEN_WORDS = (
    "depress",
    "suicid",
    "self-harm",
    "mania",
    "manic",
    "bipolar",
    "ketamine",
    "tms",
    "magnetic",
    "phq",
    "asrm",
    "madrs",
    "score",
    "total",
    "item",
    "seizure",
    "faint",
    "dissociat",
    "hypertens",
    "blood pressure",
    "relapse",
    "worsening",
    "answer",
    "overdue",
    "patient_a",
    "patient_b",
    "patient_c",
    "test patient",
)
# Digits allowed besides escalation ids: the crisis line, emergency number.
ALLOWED_NUMBERS = {"988", "911"}

SUICIDAL = [1, 1, 1, 1, 1, 1, 1, 1, 2]  # item 9 = 2 -> suicidality, urgent
ITEM9_ONE = [1, 1, 1, 1, 1, 1, 1, 1, 1]  # item 9 = 1 -> suicidality, high
ITEM9_SKIPPED = [1, 1, 1, 1, 1, 1, 1, 1, None]  # -> safety_item_unanswered, routine


def phq9(answers: Sequence[int | None]) -> list[Flag]:
    """The flags the default rules raise for one PHQ-9."""
    return phq9_flags(score_phq9(list(answers)), previous_total=None, baseline=None, relapse="none")


def raise_for(
    rt: Runtime, patient_id: int, flags: Sequence[Flag], *, source_type: str = "phq9"
) -> list[EscalationRef]:
    """raise_escalations in its own unit of work, as a request would."""
    with rt.database.unit_of_work() as session:
        patient = session.get(PatientProfile, patient_id)
        assert patient is not None
        return raise_escalations(
            session,
            patient=patient,
            flags=flags,
            source_type=source_type,
            source_id=None,
            now=rt.clock.now(),
        )


def sms_text_problems(body: str, *, allowed_ids: Sequence[int | str] = ()) -> list[str]:
    """What is wrong with one SMS text under the minimum-necessary rule (empty when fine)."""
    lowered = body.lower()
    problems = [f"forbidden word {w!r}" for w in FORBIDDEN_WORDS if w in lowered]
    allowed = ALLOWED_NUMBERS | {str(i) for i in allowed_ids}
    problems += [f"number {n}" for n in re.findall(r"\d+", body) if n not in allowed]
    return problems


def ack_ids(body: str) -> list[str]:
    """The ids and one-time codes a text names on purpose (the only numbers it may carry)."""
    # "Press 1" is the one number a spoken voice page carries: the key that acknowledges.
    return re.findall(r"(?:ACK|[Ee]scalation|code is|expires in|[Pp]ress) (\d+)", body)


def assert_clean_sms(bodies: Sequence[str]) -> None:
    """Every text is free of clinical content, names and numbers other than its own ids."""
    for body in bodies:
        problems = sms_text_problems(body, allowed_ids=ack_ids(body))
        assert not problems, (body, problems)


# Bodies seen anywhere in the suite (LogSmsSender, the Twilio stand-in, TwiML replies).
SEEN_BODIES: list[str] = []


@dataclass
class TwilioStandIn:
    """A local Twilio Messages API: records every form posted, answers as told."""

    server: HTTPServer
    received: list[dict[str, str]] = field(default_factory=list)
    # Replies to give before behaving normally: (status, json body, headers) or a float
    # meaning "sleep this long and keep nothing" (a timeout for a short-timeout sender).
    faults: deque[Any] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    _sids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    on_receive: Callable[[dict[str, str]], None] | None = None

    def install(self) -> None:
        self.server.expect_request(MESSAGES_PATH, method="POST").respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        with self.lock:
            fault = self.faults.popleft() if self.faults else None
        if isinstance(fault, float):
            # The client has given up by the time this answers; Twilio kept nothing.
            time.sleep(fault)
            return Response("", status=504)
        if fault is not None:
            status, body, headers = fault
            return Response(
                json.dumps(body), status=status, headers=headers, content_type="application/json"
            )
        with self.lock:
            sid = "SM" + f"{next(self._sids):032x}"
            self.received.append({**form, "Sid": sid})
            SEEN_BODIES.append(form.get("Body", ""))
        if self.on_receive is not None:
            self.on_receive(form)
        with self.arrived:
            self.arrived.notify_all()
        return Response(
            json.dumps(
                {
                    "sid": sid,
                    "account_sid": ACCOUNT_SID,
                    "to": form.get("To"),
                    "from": form.get("From"),
                    "body": form.get("Body"),
                    "status": "queued",
                }
            ),
            status=201,
            content_type="application/json",
        )

    def sid_for(self, to: str) -> str:
        return next(r["Sid"] for r in reversed(self.received) if r["To"] == to)

    def to_numbers(self) -> list[str]:
        return [r["To"] for r in self.received]

    def sender(self, *, timeout: float = 5.0, base_url: str | None = None) -> TwilioSmsSender:
        return TwilioSmsSender(
            account_sid=ACCOUNT_SID,
            auth_token=AUTH_TOKEN,
            from_number=FROM_NUMBER,
            api_base_url=base_url or self.server.url_for(""),
            timeout=timeout,
        )


Fault = tuple[int, dict[str, Any], dict[str, str]]


def twilio_error(status: int, code: int, message: str) -> Fault:
    """A Twilio error reply in Twilio's shape."""
    headers = {"Retry-After": "1"} if status == 429 else {}
    return (
        status,
        {
            "code": code,
            "message": message,
            "status": status,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
        },
        headers,
    )


def signed_form(path: str, params: dict[str, str], *, token: str = AUTH_TOKEN) -> dict[str, str]:
    """The X-Twilio-Signature header Twilio would send for a POST to ``path``."""
    signature = compute_twilio_signature(
        auth_token=token, url=PUBLIC_BASE_URL + path, params=params
    )
    return {"X-Twilio-Signature": signature}
