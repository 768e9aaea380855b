"""The signed-in patient: profile, phase, next session, outcome and their own history."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask.views import MethodView
from flask_smorest import Blueprint

from api.checkins import render
from api.checkins.schemas import CheckinPage, SymptomReportPage
from api.extensions import db, runtime
from api.fields import PageQuery
from api.me.schemas import MeOut
from api.security import require, the_user
from services import selfreport

blp = Blueprint(
    "me", __name__, url_prefix="/api/v1/me", description="The signed-in patient's own record."
)


@blp.route("")
class Me(MethodView):
    @require("patient")
    @blp.response(200, MeOut)
    def get(self) -> dict[str, Any]:
        """Your profile, phase, next session, latest scores and outcome summary."""
        standing = selfreport.my_standing(db(), patient=the_user(), now=runtime().clock.now())
        profile = standing.profile
        tz = ZoneInfo(profile.timezone)
        return {
            "id": profile.user_id,
            "name": profile.user.name,
            "phone": profile.user.phone,
            "timezone": profile.timezone,
            "clinic_id": profile.clinic_id,
            "phase": profile.phase,
            "maintenance_interval_days": profile.maintenance_interval_days,
            "acute_target_sessions": profile.acute_target_sessions,
            "enrolled_at": render.shown(profile.enrolled_at, tz),
            "care_team": [{"id": c.id, "name": c.name} for c in profile.care_team],
            **render.standing_out(standing, tz),
        }


@blp.route("/checkins")
class MyCheckins(MethodView):
    @require("patient")
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, CheckinPage)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Your PHQ-9 check-ins, newest first."""
        user = the_user()
        page = selfreport.checkin_history(
            db(),
            viewer=user,
            patient_id=user.id,
            limit=query["limit"],
            cursor=query["cursor"],
            now=runtime().clock.now(),
        )
        tz = ZoneInfo(page.timezone)
        return {
            "items": [render.checkin_out(r, tz, clinician=False) for r in page.items],
            "next_cursor": page.next_cursor,
        }


@blp.route("/symptom-reports")
class MySymptomReports(MethodView):
    @require("patient")
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, SymptomReportPage)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Your post-session reports, newest first."""
        user = the_user()
        page = selfreport.symptom_report_history(
            db(),
            viewer=user,
            patient_id=user.id,
            limit=query["limit"],
            cursor=query["cursor"],
            now=runtime().clock.now(),
        )
        tz = ZoneInfo(page.timezone)
        return {
            "items": [render.symptom_report_out(r, tz, clinician=False) for r in page.items],
            "next_cursor": page.next_cursor,
        }
