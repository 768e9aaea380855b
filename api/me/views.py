"""The signed-in patient: profile, phase, next session, outcome and their own history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask.views import MethodView
from flask_smorest import Blueprint

from api.checkins.schemas import CheckinPage, SymptomReportPage
from api.extensions import db, runtime
from api.fields import PageQuery, show_times_in
from api.me.schemas import MeOut
from api.security import require, the_user
from services import selfreport
from store.models import Role
from store.reports import Phq9Checkin, SymptomReportRecord

T = TypeVar("T")

blp = Blueprint(
    "me", __name__, url_prefix="/api/v1/me", description="The signed-in patient's own record."
)


def _my_history(
    read: Callable[..., selfreport.History[T]], query: dict[str, Any]
) -> selfreport.History[T]:
    """One page of the signed-in patient's own records, its times shown in their time zone."""
    user = the_user()
    page = read(
        db(),
        viewer=user,
        patient_id=user.id,
        limit=query["limit"],
        cursor=query["cursor"],
        now=runtime().clock.now(),
    )
    show_times_in(ZoneInfo(page.timezone))
    return page


@blp.route("")
class Me(MethodView):
    @require(Role.PATIENT)
    @blp.response(200, MeOut)
    def get(self) -> selfreport.Standing:
        """Your profile, phase, next session, latest scores and outcome summary."""
        standing = selfreport.my_standing(db(), patient=the_user(), now=runtime().clock.now())
        show_times_in(ZoneInfo(standing.profile.timezone))
        return standing


@blp.route("/checkins")
class MyCheckins(MethodView):
    @require(Role.PATIENT)
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, CheckinPage)
    def get(self, query: dict[str, Any]) -> selfreport.History[Phq9Checkin]:
        """Your PHQ-9 check-ins, newest first."""
        return _my_history(selfreport.checkin_history, query)


@blp.route("/symptom-reports")
class MySymptomReports(MethodView):
    @require(Role.PATIENT)
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, SymptomReportPage)
    def get(self, query: dict[str, Any]) -> selfreport.History[SymptomReportRecord]:
        """Your post-session reports, newest first."""
        return _my_history(selfreport.symptom_report_history, query)
