"""The signed-in patient: profile, phase, next session, outcome and their own history."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask.views import MethodView
from flask_smorest import Blueprint

from api.checkins.schemas import CheckinPage, SymptomReportPage
from api.extensions import db, runtime
from api.fields import PageQuery, show_times_in
from api.me.schemas import MeOut
from api.security import require, the_user
from services import selfreport
from store.reports import Phq9Checkin, SymptomReportRecord

blp = Blueprint(
    "me", __name__, url_prefix="/api/v1/me", description="The signed-in patient's own record."
)


@blp.route("")
class Me(MethodView):
    @require("patient")
    @blp.response(200, MeOut)
    def get(self) -> selfreport.Standing:
        """Your profile, phase, next session, latest scores and outcome summary."""
        standing = selfreport.my_standing(db(), patient=the_user(), now=runtime().clock.now())
        show_times_in(ZoneInfo(standing.profile.timezone))
        return standing


@blp.route("/checkins")
class MyCheckins(MethodView):
    @require("patient")
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, CheckinPage)
    def get(self, query: dict[str, Any]) -> selfreport.History[Phq9Checkin]:
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
        show_times_in(ZoneInfo(page.timezone))
        return page


@blp.route("/symptom-reports")
class MySymptomReports(MethodView):
    @require("patient")
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, SymptomReportPage)
    def get(self, query: dict[str, Any]) -> selfreport.History[SymptomReportRecord]:
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
        show_times_in(ZoneInfo(page.timezone))
        return page
