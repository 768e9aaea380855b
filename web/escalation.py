"""One escalation's page and what a clinician does to it: acknowledge, resolve, reassign."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, g, redirect, render_template, request, url_for

from api.extensions import db
from services import clinics, escalations, patients
from services.errors import Conflict, Invalid
from web.blueprint import bp
from web.forms import ActionForm, ReassignForm, ResolveForm
from web.signin import signed_in, viewer


def _escalation_page(escalation_id: int, status: int = 200, **errors: str) -> tuple[str, int]:
    me = viewer()
    detail = escalations.get_escalation(db(), viewer=me, escalation_id=escalation_id, now=g.now)
    patient_id = detail.escalation.patient_id
    names = patients.patient_names(db(), viewer=me, patient_ids=[patient_id])
    staff = clinics.list_clinicians(db(), clinic_id=me.clinic_id)
    reassign = ReassignForm()
    reassign.clinician_id.choices = [
        (c.id, c.name) for c in staff if c.is_active and c.id != detail.escalation.assigned_to
    ]
    return render_template(
        "escalation.html",
        detail=detail,
        e=detail.escalation,
        patient_name=names.get(patient_id, ""),
        staff={c.id: c.name for c in staff},
        action_form=ActionForm(),
        resolve_form=ResolveForm(),
        reassign_form=reassign,
        errors=errors,
    ), status


@bp.get("/escalations/<int:escalation_id>")
@signed_in()
def escalation(escalation_id: int) -> Any:
    return _escalation_page(escalation_id)


def _back(escalation_id: int, message: str) -> Response:
    flash(message)
    return redirect(url_for("web.escalation", escalation_id=escalation_id), 303)  # type: ignore[return-value]


@bp.post("/escalations/<int:escalation_id>/acknowledge")
@signed_in()
def acknowledge(escalation_id: int) -> Any:
    try:
        escalations.acknowledge(db(), viewer=viewer(), escalation_id=escalation_id, now=g.now)
    except Conflict as error:
        return _escalation_page(escalation_id, 409, action=error.detail)
    return _back(escalation_id, "Acknowledged: paging has stopped.")


@bp.post("/escalations/<int:escalation_id>/resolve")
@signed_in()
def resolve(escalation_id: int) -> Any:
    form = ResolveForm()
    try:
        escalations.resolve(
            db(),
            viewer=viewer(),
            escalation_id=escalation_id,
            note=form.note.data or "",
            now=g.now,
        )
    except Invalid as error:
        return _escalation_page(
            escalation_id, 422, note=" ".join(error.errors.get("note", [error.detail]))
        )
    except Conflict as error:
        return _escalation_page(escalation_id, 409, action=error.detail)
    return _back(escalation_id, "Resolved.")


@bp.post("/escalations/<int:escalation_id>/reassign")
@signed_in()
def reassign(escalation_id: int) -> Any:
    raw = request.form.get("clinician_id", "")
    try:
        escalations.reassign(
            db(),
            viewer=viewer(),
            escalation_id=escalation_id,
            clinician_id=int(raw) if raw.isdigit() else 0,
            now=g.now,
        )
    except Invalid as error:
        message = " ".join(error.errors.get("clinician_id", [error.detail]))
        return _escalation_page(escalation_id, 422, reassign=message)
    except Conflict as error:
        return _escalation_page(escalation_id, 409, action=error.detail)
    return _back(escalation_id, "Reassigned.")
