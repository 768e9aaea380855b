"""On-call schedules per clinic and clinicians' own paging settings (issue 13)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from api.extensions import db, runtime
from api.oncall.schemas import (
    ClinicianPatch,
    ClinicianWithNotifyOut,
    OnCallIn,
    OnCallOut,
    OnCallQuery,
)
from api.security import require, the_user
from services import oncall
from services.oncall import OnCallView
from store.models import Role, User

blp = Blueprint(
    "oncall",
    __name__,
    url_prefix="/api/v1",
    description="On-call rotations per clinic and tier; clinicians' notification rules.",
)


@blp.route("/clinics/<int:clinic_id>/on-call")
class OnCall(MethodView):
    @require(Role.ADMIN, Role.CLINICIAN)
    @blp.arguments(OnCallQuery, location="query")
    @blp.response(200, OnCallOut)
    def get(self, query: dict[str, Any], clinic_id: int) -> OnCallView:
        """Who is on call per tier at `at` (default now), and the schedule."""
        now = runtime().clock.now()
        return oncall.get_on_call(
            db(), viewer=the_user(), clinic_id=clinic_id, at=query["at"] or now, now=now
        )

    @require(Role.ADMIN, Role.CLINICIAN)
    @blp.arguments(OnCallIn)
    @blp.response(200, OnCallOut)
    def put(self, data: dict[str, Any], clinic_id: int) -> OnCallView:
        """Replace the clinic's rotations and overrides; paging follows them at once."""
        now = runtime().clock.now()
        session = db()
        oncall.put_schedule(
            session,
            viewer=the_user(),
            clinic_id=clinic_id,
            tiers=data["tiers"],
            overrides=data["overrides"],
            now=now,
        )
        return oncall.get_on_call(session, viewer=the_user(), clinic_id=clinic_id, at=now, now=now)


@blp.route("/clinicians/<int:clinician_id>")
class ClinicianById(MethodView):
    @require(Role.ADMIN, Role.CLINICIAN)
    @blp.arguments(ClinicianPatch)
    @blp.response(200, ClinicianWithNotifyOut)
    @blp.alt_response(409, description="The phone number belongs to another user.")
    def patch(self, data: dict[str, Any], clinician_id: int) -> User:
        """Change name, phone, on_call_tier or notify (admin, or the clinician themself)."""
        return oncall.update_clinician(
            db(),
            viewer=the_user(),
            clinician_id=clinician_id,
            changes=data,
            now=runtime().clock.now(),
        )
