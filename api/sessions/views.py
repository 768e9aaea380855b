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
from store.schedule import TreatmentSession

blp = Blueprint(
    "sessions",
    __name__,
    url_prefix="/api/v1/patients/<int:patient_id>/sessions",
    description="Treatment sessions and their vitals (clinicians).",
)


def session_out(record: TreatmentSession) -> dict[str, Any]:
    return {
        "id": record.id,
        "patient_id": record.patient_id,
        "started_at": record.started_at,
        "ketamine_mg_per_kg": record.ketamine_mg_per_kg,
        "ketamine_infusion_minutes": record.ketamine_infusion_minutes,
        "tms_minutes": record.tms_minutes,
        "vitals": [
            {
                "at": v.at,
                "systolic": v.systolic,
                "diastolic": v.diastolic,
                "heart_rate": v.heart_rate,
                "spo2": v.spo2,
            }
            for v in record.vitals
        ],
        "notes": record.notes,
        "recorded_by": record.recorded_by,
        "recorded_at": record.recorded_at,
        "status": record.status,
        "ended_at": record.ended_at,
        "deviations": [d["kind"] for d in record.deviations or []],
        "deviation_details": list(record.deviations or []),
        "warnings": list(record.warnings or []),
    }


@blp.route("")
class Sessions(MethodView):
    @require("clinician")
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, SessionPage)
    def get(self, query: dict[str, Any], patient_id: int) -> dict[str, Any]:
        """The patient's sessions, latest start first."""
        page = sessions.list_sessions(
            db(),
            viewer=the_user(),
            patient_id=patient_id,
            limit=query["limit"],
            cursor=query["cursor"],
            now=runtime().clock.now(),
        )
        return {"items": [session_out(s) for s in page.items], "next_cursor": page.next_cursor}

    @idempotent
    @require("clinician")
    @blp.arguments(SessionIn)
    @blp.response(201, SessionCreated)
    @blp.alt_response(409, description="A session at this start time is already recorded.")
    @blp.alt_response(422, description="Invalid fields, each named.")
    def post(self, data: dict[str, Any], patient_id: int) -> dict[str, Any]:
        """Record a session (back-filling is fine); re-plans the patient's calendar."""
        recorded = sessions.record_session(
            db(), clinician=the_user(), patient_id=patient_id, data=data, now=runtime().clock.now()
        )
        escalation = recorded.escalation
        return {
            **session_out(recorded.record),
            "escalation": (
                {"id": escalation.id, "kind": escalation.kind, "priority": escalation.priority}
                if escalation
                else None
            ),
        }


live_blp = Blueprint(
    "live_sessions",
    __name__,
    url_prefix="/api/v1/sessions/<int:session_id>",
    description="Sessions recorded live: one reading at a time, each judged on arrival.",
)


@live_blp.route("")
class SessionById(MethodView):
    @require("clinician")
    @live_blp.response(200, SessionOut)
    def get(self, session_id: int) -> dict[str, Any]:
        """One session of your clinic, with its readings and deviations."""
        return session_out(sessions.get_session(db(), viewer=the_user(), session_id=session_id))


@live_blp.route("/vitals")
class SessionVitals(MethodView):
    @idempotent
    @require("clinician")
    @live_blp.arguments(VitalsIn)
    @live_blp.response(201, ReadingCreated)
    @live_blp.alt_response(404, description="No such session in your clinic.")
    @live_blp.alt_response(409, description="The session has ended.")
    @live_blp.alt_response(422, description="Out of range, before the start or in the future.")
    def post(self, data: dict[str, Any], session_id: int) -> dict[str, Any]:
        """Add one reading to a live session; it is judged at once (BP >= 180/110 urgent
        hypertension, heart rate < 50 or > 120 high vital_signs, SpO2 < 92 urgent respiratory)."""
        recorded = sessions.add_reading(
            db(), clinician=the_user(), session_id=session_id, data=data, now=runtime().clock.now()
        )
        reading, escalation = recorded.record, recorded.escalation
        return {
            "id": reading.id,
            "session_id": reading.session_id,
            "at": reading.at,
            "systolic": reading.systolic,
            "diastolic": reading.diastolic,
            "heart_rate": reading.heart_rate,
            "spo2": reading.spo2,
            "flags": [flag.kind for flag in recorded.flags],
            "escalation": (
                {"id": escalation.id, "kind": escalation.kind, "priority": escalation.priority}
                if escalation
                else None
            ),
        }


@live_blp.route("/end")
class SessionEnd(MethodView):
    @idempotent
    @require("clinician")
    @live_blp.arguments(SessionEndIn)
    @live_blp.response(200, SessionOut)
    @live_blp.alt_response(404, description="No such session in your clinic.")
    @live_blp.alt_response(409, description="The session has already ended.")
    @live_blp.alt_response(422, description="ended_at before the start or in the future.")
    def post(self, data: dict[str, Any], session_id: int) -> dict[str, Any]:
        """Close a live session; its deviations are recorded and returned."""
        ended = sessions.end_session(
            db(), clinician=the_user(), session_id=session_id, data=data, now=runtime().clock.now()
        )
        return session_out(ended.record)
