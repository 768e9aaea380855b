"""Patients: enrolment and the clinician's view of them."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from api.checkins import render
from api.extensions import db, runtime
from api.fields import PageQuery
from api.idempotency import idempotent
from api.patients.schemas import PatientIn, PatientOut, PatientPage, PatientPatch
from api.security import require, the_user
from services import patients, selfreport
from store.models import PatientProfile

blp = Blueprint(
    "patients",
    __name__,
    url_prefix="/api/v1/patients",
    description="Enrolment and patient records (clinicians).",
)


def patient_out(profile: PatientProfile) -> dict[str, Any]:
    user = profile.user
    return {
        "id": profile.user_id,
        "clinic_id": profile.clinic_id,
        "status": profile.status,
        "name": user.name,
        "phone": user.phone,
        "timezone": profile.timezone,
        "bipolar": profile.bipolar,
        "weight_kg": profile.weight_kg,
        "phase": profile.phase,
        "maintenance_interval_days": profile.maintenance_interval_days,
        "acute_target_sessions": profile.acute_target_sessions,
        "care_team": [{"id": c.id, "name": c.name} for c in profile.care_team],
        "sms_opted_out": user.sms_opted_out,
        "enrolled_at": profile.enrolled_at,
        "activated": user.password_hash is not None,
        "baseline": (
            {"instrument": profile.baseline_instrument, "score": profile.baseline_score}
            if profile.baseline_instrument
            else None
        ),
    }


@blp.route("")
class Patients(MethodView):
    @require("clinician")
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, PatientPage)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Patients of your clinic, newest first."""
        page = patients.list_patients(
            db(),
            viewer=the_user(),
            limit=query["limit"],
            cursor=query["cursor"],
            now=runtime().clock.now(),
        )
        return {"items": [patient_out(p) for p in page.items], "next_cursor": page.next_cursor}

    @idempotent
    @require("clinician")
    @blp.arguments(PatientIn)
    @blp.response(201, PatientOut)
    @blp.alt_response(422, description="Invalid fields, or each unmet eligibility criterion.")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Screen and enrol a patient; the patient gets an activation code by SMS."""
        profile = patients.enroll_patient(
            db(), clinician=the_user(), data=data, now=runtime().clock.now()
        )
        return patient_out(profile)


@blp.route("/<int:patient_id>")
class PatientById(MethodView):
    @require("clinician")
    @blp.response(200, PatientOut)
    def get(self, patient_id: int) -> dict[str, Any]:
        """One patient of your clinic: profile, plan, latest scores and outcome summary."""
        standing = selfreport.patient_standing(
            db(), viewer=the_user(), patient_id=patient_id, now=runtime().clock.now()
        )
        return {**patient_out(standing.profile), **render.standing_out(standing, None)}

    @require("clinician")
    @blp.arguments(PatientPatch)
    @blp.response(200, PatientOut)
    def patch(self, data: dict[str, Any], patient_id: int) -> dict[str, Any]:
        """Change a patient's plan (interval, phase, care team) or profile."""
        return patient_out(
            patients.update_patient(
                db(),
                viewer=the_user(),
                patient_id=patient_id,
                changes=data,
                now=runtime().clock.now(),
            )
        )


@blp.route("/<int:patient_id>/activation")
class Activation(MethodView):
    @require("clinician")
    @blp.response(202)
    def post(self, patient_id: int) -> Response:
        """Send the patient a new activation code (earlier codes stop working)."""
        patients.resend_activation(
            db(), clinician=the_user(), patient_id=patient_id, now=runtime().clock.now()
        )
        return Response(status=202)
