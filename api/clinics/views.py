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
from services import clinics
from services.errors import NotFound
from store.models import Clinic, Role, User

blp = Blueprint("clinics", __name__, url_prefix="/api/v1", description="Clinics and clinicians.")


@blp.route("/clinics")
class Clinics(MethodView):
    @require(Role.ADMIN)
    @blp.response(200, ClinicOut(many=True))
    def get(self) -> list[Clinic]:
        """All clinics."""
        return clinics.list_clinics(db())

    @idempotent
    @require(Role.ADMIN)
    @blp.arguments(ClinicIn)
    @blp.response(201, ClinicOut)
    def post(self, data: dict[str, Any]) -> Clinic:
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
        return clinic


@blp.route("/clinics/<int:clinic_id>")
class ClinicById(MethodView):
    @require(Role.ADMIN, Role.CLINICIAN)
    @blp.response(200, ClinicOut)
    def get(self, clinic_id: int) -> Clinic:
        """One clinic (a clinician sees only their own)."""
        user = the_user()
        if user.role == Role.CLINICIAN and user.clinic_id != clinic_id:
            raise NotFound("No such clinic.")
        return clinics.get_clinic(db(), clinic_id=clinic_id)

    @require(Role.ADMIN)
    @blp.arguments(ClinicPatch)
    @blp.response(200, ClinicOut)
    def patch(self, data: dict[str, Any], clinic_id: int) -> Clinic:
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
        return clinic


@blp.route("/clinicians")
class Clinicians(MethodView):
    @require(Role.ADMIN, Role.CLINICIAN)
    @blp.arguments(ClinicianQuery, location="query")
    @blp.response(200, ClinicianOut(many=True))
    def get(self, query: dict[str, Any]) -> list[User]:
        """Clinicians: an admin's choice of clinic, or the caller's own clinic."""
        user = the_user()
        clinic_id = query.get("clinic_id") if user.role == Role.ADMIN else user.clinic_id
        return clinics.list_clinicians(db(), clinic_id=clinic_id)

    @idempotent
    @require(Role.ADMIN)
    @blp.arguments(ClinicianIn)
    @blp.response(201, ClinicianOut)
    def post(self, data: dict[str, Any]) -> User:
        """Create a clinician in a clinic."""
        user = clinics.create_staff(
            db(),
            actor=the_user(),
            role=Role.CLINICIAN,
            name=data["name"],
            email=data["email"],
            phone=data["phone"],
            password=data["password"],
            clinic_id=data["clinic_id"],
            on_call_tier=data["on_call_tier"],
            now=runtime().clock.now(),
        )
        return user


@blp.route("/clinicians/<int:clinician_id>/deactivate")
class ClinicianDeactivation(MethodView):
    @require(Role.ADMIN)
    @blp.response(200, ClinicianOut)
    @blp.alt_response(404, description="No such clinician.")
    def post(self, clinician_id: int) -> User:
        """Disable a clinician: no sign-in, no pages; every session of theirs ends at once."""
        user = clinics.deactivate_clinician(
            db(), actor=the_user(), clinician_id=clinician_id, now=runtime().clock.now()
        )
        return user
