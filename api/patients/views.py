"""Patients: enrolment and the clinician's view of them."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from api.extensions import db, runtime
from api.fields import PageQuery
from api.idempotency import idempotent
from api.patients.schemas import (
    PatientDetailOut,
    PatientIn,
    PatientOut,
    PatientPage,
    PatientPatch,
)
from api.security import require, the_user
from services import patients, selfreport
from services.pagination import Page
from store.models import PatientProfile, Role

blp = Blueprint(
    "patients",
    __name__,
    url_prefix="/api/v1/patients",
    description="Enrolment and patient records (clinicians).",
)


@blp.route("")
class Patients(MethodView):
    @require(Role.CLINICIAN)
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, PatientPage)
    def get(self, query: dict[str, Any]) -> Page[PatientProfile]:
        """Patients of your clinic, newest first."""
        return patients.list_patients(
            db(),
            viewer=the_user(),
            limit=query["limit"],
            cursor=query["cursor"],
            now=runtime().clock.now(),
        )

    @idempotent
    @require(Role.CLINICIAN)
    @blp.arguments(PatientIn)
    @blp.response(201, PatientOut)
    @blp.alt_response(422, description="Invalid fields, or each unmet eligibility criterion.")
    def post(self, data: dict[str, Any]) -> PatientProfile:
        """Screen and enrol a patient; the patient gets an activation code by SMS."""
        return patients.enroll_patient(
            db(), clinician=the_user(), data=data, now=runtime().clock.now()
        )


@blp.route("/<int:patient_id>")
class PatientById(MethodView):
    @require(Role.CLINICIAN)
    @blp.response(200, PatientDetailOut)
    def get(self, patient_id: int) -> selfreport.Standing:
        """One patient of your clinic: profile, plan, latest scores and outcome summary."""
        return selfreport.patient_standing(
            db(), viewer=the_user(), patient_id=patient_id, now=runtime().clock.now()
        )

    @require(Role.CLINICIAN)
    @blp.arguments(PatientPatch)
    @blp.response(200, PatientOut)
    def patch(self, data: dict[str, Any], patient_id: int) -> PatientProfile:
        """Change a patient's plan (interval, phase, care team) or profile."""
        return patients.update_patient(
            db(), viewer=the_user(), patient_id=patient_id, changes=data, now=runtime().clock.now()
        )


@blp.route("/<int:patient_id>/activation")
class Activation(MethodView):
    @require(Role.CLINICIAN)
    @blp.response(202)
    def post(self, patient_id: int) -> Response:
        """Send the patient a new activation code (earlier codes stop working)."""
        patients.resend_activation(
            db(), clinician=the_user(), patient_id=patient_id, now=runtime().clock.now()
        )
        return Response(status=202)
