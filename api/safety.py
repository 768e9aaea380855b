"""A refused self-report that reported suicidal thoughts still reaches a clinician.

Whatever refuses a PHQ-9 or post-session report (a guard's 415/422, validation, a task
that is not open, an idempotency conflict, a failed store: any 4xx or 5xx), when its item 9
or `suicidal_thoughts` answer was readable, the answer is recorded as evidence on a
suicidality escalation and paged per the clinic's rules, in a unit of work of its own that
starts after the refused request's transaction has ended (committed or rolled back), so the
refusal cannot undo it. The problem document then says `"safety_signal_recorded": true`.

Attribution: the signal is recorded only for the patient a token *we signed* names — an
expired or logged-out access token still proves who sent it (an app whose session lapsed is
exactly when this matters), but a forged or unsigned token, a staff token, or a disabled
patient records nothing (a 401 without a valid patient identity cannot be attributed).

This path never raises: if the database is down too, it logs and leaves the response as it
was (the crisis resources are on it regardless).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, json, request
from flask_jwt_extended import decode_token

from api.checkins.views import SafetyAnswers
from api.errors import PROBLEM_JSON
from api.extensions import runtime
from services import selfreport
from store.models import Role

log = logging.getLogger("tandem.api.safety")


def _patient_id_from_token() -> int | None:
    """The patient a token we signed names (expired or not), else None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or not token.strip():
        return None
    try:
        claims: dict[str, Any] = decode_token(token.strip(), allow_expired=True)
    except Exception:  # any undecodable, forged or foreign token: no identity
        return None
    if claims.get("type") != "access" or claims.get("role") != Role.PATIENT:
        return None
    try:
        return int(claims["sub"])
    except (KeyError, TypeError, ValueError):
        return None


def _record(answers: SafetyAnswers, patient_id: int, status: int) -> bool:
    rt = runtime()
    with rt.database.unit_of_work() as session:
        ref = selfreport.record_refused_signal(
            session,
            patient_id=patient_id,
            source_type=answers.source_type,
            item9=answers.item9,
            phq9_total=answers.phq9_total,
            suicidal_thoughts=answers.suicidal_thoughts,
            refusal_status=status,
            now=rt.clock.now(),
        )
    return ref is not None


def _mark(response: Response) -> None:
    """Add `"safety_signal_recorded": true` to the problem document."""
    if response.mimetype != PROBLEM_JSON or response.is_streamed:
        return
    body = json.loads(response.get_data())
    if isinstance(body, dict):
        body["safety_signal_recorded"] = True
        response.set_data(json.dumps(body))


def register_safety_net(app: Flask) -> None:
    """Install the hook; it must run after the unit of work has finished the request."""

    @app.after_request
    def _refused_signal(response: Response) -> Response:
        answers: SafetyAnswers | None = g.get("safety_answers")
        if answers is None or response.status_code < 400:
            return response
        try:
            patient_id = _patient_id_from_token()
            if patient_id is not None and _record(answers, patient_id, response.status_code):
                _mark(response)
                log.warning(
                    "a refused self-report's suicidality answer was recorded (status %s)",
                    response.status_code,
                )
        except Exception:
            # Never turn the refusal into something worse; the crisis resources stand.
            log.exception("could not record a refused self-report's suicidality answer")
        return response
