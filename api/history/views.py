"""A patient's PHQ-9 check-ins and post-session reports, for their clinic's clinicians."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from api.checkins.schemas import RatedCheckinPage, RatedSymptomReportPage
from api.extensions import db, runtime
from api.fields import PageQuery
from api.security import require, the_user
from services import selfreport
from store.models import Role
from store.reports import Phq9Checkin, SymptomReportRecord

blp = Blueprint(
    "patient_history",
    __name__,
    url_prefix="/api/v1/patients",
    description="Self-report history of a patient (clinicians).",
)


@blp.route("/<int:patient_id>/checkins")
class PatientCheckins(MethodView):
    @require(Role.CLINICIAN)
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, RatedCheckinPage)
    def get(self, query: dict[str, Any], patient_id: int) -> selfreport.History[Phq9Checkin]:
        """The patient's PHQ-9 check-ins, newest first, with the rules that fired."""
        return selfreport.checkin_history(
            db(),
            viewer=the_user(),
            patient_id=patient_id,
            limit=query["limit"],
            cursor=query["cursor"],
            now=runtime().clock.now(),
        )


@blp.route("/<int:patient_id>/symptom-reports")
class PatientSymptomReports(MethodView):
    @require(Role.CLINICIAN)
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, RatedSymptomReportPage)
    def get(
        self, query: dict[str, Any], patient_id: int
    ) -> selfreport.History[SymptomReportRecord]:
        """The patient's post-session reports, newest first, with the rules that fired."""
        return selfreport.symptom_report_history(
            db(),
            viewer=the_user(),
            patient_id=patient_id,
            limit=query["limit"],
            cursor=query["cursor"],
            now=runtime().clock.now(),
        )
