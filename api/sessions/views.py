"""Treatment sessions of a patient (clinicians of the patient's clinic)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from api.extensions import db, runtime
from api.fields import PageQuery
from api.idempotency import idempotent
from api.security import require, the_user
from api.sessions.schemas import (
    ReadingCreated,
    SessionCreated,
    SessionEndIn,
    SessionIn,
    SessionOut,
    SessionPage,
    VitalsIn,
)
from services import sessions
from services.pagination import Page
from store.models import Role
from store.schedule import TreatmentSession

blp = Blueprint(
    "sessions",
    __name__,
    url_prefix="/api/v1/patients/<int:patient_id>/sessions",
    description="Treatment sessions and their vitals (clinicians).",
)


@blp.route("")
class Sessions(MethodView):
    @require(Role.CLINICIAN)
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, SessionPage)
    def get(self, query: dict[str, Any], patient_id: int) -> Page[TreatmentSession]:
        """The patient's sessions, latest start first."""
        return sessions.list_sessions(
            db(),
            viewer=the_user(),
            patient_id=patient_id,
            limit=query["limit"],
            cursor=query["cursor"],
            now=runtime().clock.now(),
        )

    @idempotent
    @require(Role.CLINICIAN)
    @blp.arguments(SessionIn)
    @blp.response(201, SessionCreated)
    @blp.alt_response(409, description="A session at this start time is already recorded.")
    @blp.alt_response(422, description="Invalid fields, each named.")
    def post(self, data: dict[str, Any], patient_id: int) -> sessions.RecordedSession:
        """Record a session (back-filling is fine); re-plans the patient's calendar."""
        return sessions.record_session(
            db(), clinician=the_user(), patient_id=patient_id, data=data, now=runtime().clock.now()
        )


live_blp = Blueprint(
    "live_sessions",
    __name__,
    url_prefix="/api/v1/sessions/<int:session_id>",
    description="Sessions recorded live: one reading at a time, each judged on arrival.",
)


@live_blp.route("")
class SessionById(MethodView):
    @require(Role.CLINICIAN)
    @live_blp.response(200, SessionOut)
    def get(self, session_id: int) -> TreatmentSession:
        """One session of your clinic, with its readings and deviations."""
        return sessions.get_session(db(), viewer=the_user(), session_id=session_id)


@live_blp.route("/vitals")
class SessionVitals(MethodView):
    @idempotent
    @require(Role.CLINICIAN)
    @live_blp.arguments(VitalsIn)
    @live_blp.response(201, ReadingCreated)
    @live_blp.alt_response(404, description="No such session in your clinic.")
    @live_blp.alt_response(409, description="The session has ended.")
    @live_blp.alt_response(422, description="Out of range, before the start or in the future.")
    def post(self, data: dict[str, Any], session_id: int) -> sessions.RecordedReading:
        """Add one reading to a live session; it is judged at once (BP >= 180/110 urgent
        hypertension, heart rate < 50 or > 120 high vital_signs, SpO2 < 92 urgent respiratory)."""
        return sessions.add_reading(
            db(), clinician=the_user(), session_id=session_id, data=data, now=runtime().clock.now()
        )


@live_blp.route("/end")
class SessionEnd(MethodView):
    @idempotent
    @require(Role.CLINICIAN)
    @live_blp.arguments(SessionEndIn)
    @live_blp.response(200, SessionOut)
    @live_blp.alt_response(404, description="No such session in your clinic.")
    @live_blp.alt_response(409, description="The session has already ended.")
    @live_blp.alt_response(422, description="ended_at before the start or in the future.")
    def post(self, data: dict[str, Any], session_id: int) -> sessions.RecordedSession:
        """Close a live session; its deviations are recorded and returned."""
        return sessions.end_session(
            db(), clinician=the_user(), session_id=session_id, data=data, now=runtime().clock.now()
        )
