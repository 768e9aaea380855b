"""Treatment sessions of a patient (clinicians of the patient's clinic)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from api.extensions import db, runtime
from api.fields import PageQuery
from api.idempotency import idempotent
from api.security import require, the_user
from api.sessions.schemas import SessionCreated, SessionIn, SessionPage
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
            }
            for v in record.vitals
        ],
        "notes": record.notes,
        "recorded_by": record.recorded_by,
        "recorded_at": record.recorded_at,
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
