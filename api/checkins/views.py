"""PHQ-9 check-ins and post-session symptom reports, submitted by patients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, g, json, request
from flask.views import MethodView
from flask_smorest import Blueprint

from api.checkins.schemas import Phq9In, Phq9Out, SymptomReportIn, SymptomReportOut
from api.extensions import db, runtime
from api.fields import show_times_in
from api.idempotency import idempotent
from api.security import require, the_user
from clinical import crisis
from services import selfreport
from store.models import Role

blp = Blueprint(
    "checkins",
    __name__,
    url_prefix="/api/v1",
    description="Patient self-report: PHQ-9 check-ins and post-session reports.",
)


def _raw_level(value: object) -> int | None:
    """An answer that is a valid 0-3 level, read before validation (else None)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 3:
        return value
    return None


SYMPTOM_REPORT_PATH = "/api/v1/symptom-reports"
# Every door a suicidality answer can come in by (the item 9 re-ask is a PHQ-9 answer).
SELF_REPORT_PATHS = (
    "/api/v1/checkins/phq9",
    SYMPTOM_REPORT_PATH,
    "/api/v1/checkins/phq9-item9",
)


def read_crisis_answers() -> None:
    """Read the safety answers of a self-report before anything else can refuse it.

    Registered on the app ahead of every other guard: whatever happens next (wrong content
    type, bad token, invalid field, database down), every answer this request gets carries
    crisis resources when the patient reported suicidal thoughts.
    """
    if request.method != "POST" or request.path not in SELF_REPORT_PATHS:
        return
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is not None and (request.content_length or 0) > limit:
        return  # unreadable: the 413 that follows cannot know the answers
    try:
        body = json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):
        return
    if not isinstance(body, dict):
        return
    answers = body.get("answers")
    item9 = _raw_level(answers[8]) if isinstance(answers, list) and len(answers) > 8 else None
    if item9 is None:
        item9 = _raw_level(body.get("item9"))  # the one-question re-ask
    thoughts = _raw_level(body.get("suicidal_thoughts"))
    resources = crisis.crisis_resources_for(item9=item9, suicidal_thoughts=thoughts)
    if resources is not None:
        g.crisis_resources = resources
        # Kept for a refusal: the readable answers still reach a clinician (api.safety).
        levels = [_raw_level(a) for a in answers] if isinstance(answers, list) else []
        g.safety_answers = SafetyAnswers(
            source_type="symptom_report" if request.path == SYMPTOM_REPORT_PATH else "phq9",
            item9=item9,
            phq9_total=(
                sum(v for v in levels if v is not None)
                if len(levels) == 9 and None not in levels
                else None
            ),
            suicidal_thoughts=thoughts,
        )


@dataclass(frozen=True, slots=True)
class SafetyAnswers:
    """The suicidality answers of a self-report, as readable before any validation."""

    source_type: str
    item9: int | None
    phq9_total: int | None
    suicidal_thoughts: int | None


@blp.route("/checkins/phq9")
class Phq9Checkins(MethodView):
    @idempotent
    @require(Role.PATIENT)
    @blp.arguments(Phq9In)
    @blp.response(201, Phq9Out)
    @blp.alt_response(404, description="The task or session is not yours.")
    def post(self, data: dict[str, Any]) -> selfreport.Phq9Result:
        """Submit a PHQ-9: scored, stored, escalated; crisis resources when item 9 >= 1."""
        result = selfreport.submit_phq9(db(), patient=the_user(), now=runtime().clock.now(), **data)
        show_times_in(ZoneInfo(result.timezone))
        return result


@blp.route("/symptom-reports")
class SymptomReports(MethodView):
    @idempotent
    @require(Role.PATIENT)
    @blp.arguments(SymptomReportIn)
    @blp.response(201, SymptomReportOut)
    @blp.alt_response(404, description="The task or session is not yours.")
    def post(self, data: dict[str, Any]) -> selfreport.SymptomReportResult:
        """Submit a post-session report; crisis resources when suicidal thoughts >= 1."""
        result = selfreport.submit_symptom_report(
            db(), patient=the_user(), now=runtime().clock.now(), **data
        )
        show_times_in(ZoneInfo(result.timezone))
        return result
