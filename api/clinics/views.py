"""Clinics and clinicians: the admin's part of the API."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from api.clinics.schemas import (
    ClinicianIn,
    ClinicianOut,
    ClinicianQuery,
    ClinicIn,
    ClinicOut,
    ClinicPatch,
)
from api.extensions import db, runtime
from api.idempotency import idempotent
from api.security import require, the_user
from services import clinics, escalations
from services.errors import NotFound
from store.models import Clinic, User

blp = Blueprint("clinics", __name__, url_prefix="/api/v1", description="Clinics and clinicians.")


def _clinic_out(clinic: Clinic) -> dict[str, Any]:
    return {
        "id": clinic.id,
        "name": clinic.name,
        "timezone": clinic.timezone,
        "escalation_policy": clinics.effective_policy(clinic.escalation_policy),
        "escalation_rules": escalations.clinic_rules(clinic).as_dict(),
        "created_at": clinic.created_at,
    }


@blp.route("/clinics")
class Clinics(MethodView):
    @require("admin")
    @blp.response(200, ClinicOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """All clinics."""
        return [_clinic_out(c) for c in clinics.list_clinics(db())]

    @idempotent
    @require("admin")
    @blp.arguments(ClinicIn)
    @blp.response(201, ClinicOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a clinic."""
        clinic = clinics.create_clinic(
            db(),
            actor=the_user(),
            name=data["name"],
            timezone=data["timezone"],
            policy=data.get("escalation_policy"),
            rules=data.get("escalation_rules"),
            now=runtime().clock.now(),
        )
        return _clinic_out(clinic)


@blp.route("/clinics/<int:clinic_id>")
class ClinicById(MethodView):
    @require("admin", "clinician")
    @blp.response(200, ClinicOut)
    def get(self, clinic_id: int) -> dict[str, Any]:
        """One clinic (a clinician sees only their own)."""
        user = the_user()
        if user.role == "clinician" and user.clinic_id != clinic_id:
            raise NotFound("No such clinic.")
        return _clinic_out(clinics.get_clinic(db(), clinic_id=clinic_id))

    @require("admin")
    @blp.arguments(ClinicPatch)
    @blp.response(200, ClinicOut)
    def patch(self, data: dict[str, Any], clinic_id: int) -> dict[str, Any]:
        """Change a clinic's name, time zone or escalation policy."""
        clinic = clinics.update_clinic(
            db(),
            actor=the_user(),
            clinic_id=clinic_id,
            now=runtime().clock.now(),
            name=data.get("name"),
            timezone=data.get("timezone"),
            policy=data.get("escalation_policy"),
            rules=data.get("escalation_rules"),
        )
        return _clinic_out(clinic)


def clinician_out(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "clinic_id": user.clinic_id,
        "name": user.name,
        "email": user.email,
        "phone": user.phone,
        "on_call_tier": user.on_call_tier,
        "sms_opted_out": user.sms_opted_out,
        "is_active": user.is_active,
        "created_at": user.created_at,
    }


@blp.route("/clinicians")
class Clinicians(MethodView):
    @require("admin", "clinician")
    @blp.arguments(ClinicianQuery, location="query")
    @blp.response(200, ClinicianOut(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """Clinicians: an admin's choice of clinic, or the caller's own clinic."""
        user = the_user()
        clinic_id = query.get("clinic_id") if user.role == "admin" else user.clinic_id
        return [clinician_out(u) for u in clinics.list_clinicians(db(), clinic_id=clinic_id)]

    @idempotent
    @require("admin")
    @blp.arguments(ClinicianIn)
    @blp.response(201, ClinicianOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a clinician in a clinic."""
        user = clinics.create_staff(
            db(),
            actor=the_user(),
            role="clinician",
            name=data["name"],
            email=data["email"],
            phone=data["phone"],
            password=data["password"],
            clinic_id=data["clinic_id"],
            on_call_tier=data["on_call_tier"],
            now=runtime().clock.now(),
        )
        return clinician_out(user)


@blp.route("/clinicians/<int:clinician_id>/deactivate")
class ClinicianDeactivation(MethodView):
    @require("admin")
    @blp.response(200, ClinicianOut)
    @blp.alt_response(404, description="No such clinician.")
    def post(self, clinician_id: int) -> dict[str, Any]:
        """Disable a clinician: no sign-in, no pages; every session of theirs ends at once."""
        user = clinics.deactivate_clinician(
            db(), actor=the_user(), clinician_id=clinician_id, now=runtime().clock.now()
        )
        return clinician_out(user)
