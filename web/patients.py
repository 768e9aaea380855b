"""The clinic's patients: the list with each one's standing, and one patient's record."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import g, render_template, request

from api.extensions import db
from services import escalations, patients, selfreport, sessions
from services import overdue as late_work
from services.errors import Invalid
from services.pagination import MAX_LIMIT
from web import charts
from web.blueprint import PAGE_ROWS, bp, error_page
from web.signin import signed_in, viewer

RECENT_REPORTS = 10


@bp.get("/patients")
@signed_in()
def patient_list() -> Any:
    me = viewer()
    try:
        page = patients.list_patients(
            db(), viewer=me, limit=PAGE_ROWS, cursor=request.args.get("cursor") or None
        )
    except Invalid as error:
        return error_page(422, "Bad page link", " ".join(error.errors.get("cursor", [])))
    standings = [selfreport.standing(db(), profile=profile) for profile in page.items]
    overdue = late_work.overdue_for(db(), viewer=me, patients=page.items, now=g.now)
    return render_template(
        "patients.html", standings=standings, overdue=overdue, next_cursor=page.next_cursor
    )


@bp.get("/patients/<int:patient_id>")
@signed_in()
def patient(patient_id: int) -> Any:
    me = viewer()
    standing = selfreport.patient_standing(db(), viewer=me, patient_id=patient_id)
    profile = standing.profile
    tz = ZoneInfo(profile.timezone)
    checkins = selfreport.checkin_history(
        db(), viewer=me, patient_id=patient_id, limit=MAX_LIMIT, cursor=None
    ).items
    treatment = sessions.list_sessions(
        db(), viewer=me, patient_id=patient_id, limit=MAX_LIMIT, cursor=None
    ).items
    reports = selfreport.symptom_report_history(
        db(), viewer=me, patient_id=patient_id, limit=MAX_LIMIT, cursor=None
    ).items
    recent = escalations.list_escalations(
        db(), viewer=me, now=g.now, limit=RECENT_REPORTS, patient_id=patient_id
    ).items
    nonce = g.csp_nonce
    phq9_svg = charts.phq9_chart(
        checkins=checkins,
        sessions=treatment,
        baseline=standing.outcome.baseline.score,
        tz=tz,
        nonce=nonce,
        now=g.now,
    )
    asrm_svg = (
        charts.asrm_chart(checkins=checkins, reports=reports, tz=tz, nonce=nonce, now=g.now)
        if profile.bipolar
        else None
    )
    return render_template(
        "patient.html",
        standing=standing,
        profile=profile,
        tz=tz,
        checkins=checkins,
        treatment=treatment,
        reports=reports[:RECENT_REPORTS],
        escalations=recent,
        upcoming=late_work.upcoming_tasks(db(), viewer=me, patient=profile, now=g.now),
        overdue=late_work.overdue_for(db(), viewer=me, patients=[profile], now=g.now)[
            profile.user_id
        ],
        phq9_svg=phq9_svg,
        asrm_svg=asrm_svg,
    )
