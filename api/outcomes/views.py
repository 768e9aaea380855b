"""The clinic's cohort outcome report (JSON, or one pseudonymous CSV row per patient)."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from api.extensions import db, runtime
from api.security import require, the_user
from services import cohort
from store.models import Role

blp = Blueprint(
    "outcomes", __name__, url_prefix="/api/v1", description="The clinic's cohort outcomes."
)


class RateOut(Schema):
    """A rate in percent with its Wilson 95 % interval and the number of patients."""

    rate = fields.Float(allow_none=True, metadata={"description": "Percent."})
    ci95 = fields.List(
        fields.Float(), allow_none=True, metadata={"description": "Wilson 95 % interval."}
    )
    n = fields.Integer()
    count = fields.Integer()


class PublishedOut(Schema):
    """The published figures the clinic's outcomes are shown beside."""

    mean_percent_reduction = fields.Float()
    response_rate = fields.Float()
    remission_rate = fields.Float()
    source = fields.String()


class OutcomesOut(Schema):
    """The clinic's cohort outcomes: response, remission and sustained remission."""

    clinic_id = fields.Integer()
    at = fields.DateTime()
    patients = fields.Integer()
    completed_acute = fields.Integer()
    stopped_early = fields.Integer()
    evaluable = fields.Integer()
    not_evaluable = fields.Dict(keys=fields.String(), values=fields.Integer())
    mean_percent_reduction = fields.Float(allow_none=True)
    mean_percent_reduction_n = fields.Integer()
    response = fields.Nested(RateOut)
    remission = fields.Nested(RateOut)
    sustained_remission = fields.Dict()
    by_group = fields.Dict()
    protocol_deviations = fields.Dict()
    published = fields.Nested(PublishedOut)
    definitions = fields.Dict()


@blp.route("/clinics/<int:clinic_id>/outcomes")
class Outcomes(MethodView):
    @require(Role.ADMIN, Role.CLINICIAN)
    @blp.response(200, OutcomesOut, content_type="application/json")
    @blp.alt_response(
        200,
        description="With `Accept: text/csv`: one row per patient under a pseudonymous id.",
        content_type="text/csv",
        success=True,
    )
    def get(self, clinic_id: int) -> Any:
        """Response, remission and sustained remission with Wilson 95 % intervals, by group."""
        rt = runtime()
        report, rows = cohort.outcomes(
            db(),
            viewer=the_user(),
            clinic_id=clinic_id,
            secret=rt.settings.secret_key,
            now=rt.clock.now(),
        )
        wants = request.accept_mimetypes.best_match(["application/json", "text/csv"])
        if wants == "text/csv":
            return Response(
                "".join(cohort.csv_lines(rows)),
                mimetype="text/csv",
                headers={
                    "Content-Disposition": f'attachment; filename="outcomes-clinic-{clinic_id}.csv"'
                },
            )
        return report
