"""The clinic's cohort outcomes page."""

from __future__ import annotations

from typing import Any

from flask import g, render_template

from api.extensions import db, runtime
from services import cohort
from web import charts
from web.blueprint import bp
from web.signin import signed_in, viewer


@bp.get("/outcomes")
@signed_in()
def outcomes() -> Any:
    me = viewer()
    assert me.clinic_id is not None
    report, _rows = cohort.outcomes(
        db(),
        viewer=me,
        clinic_id=me.clinic_id,
        secret=runtime().settings.secret_key,
        now=g.now,
    )
    chart = charts.outcomes_chart(report=report, nonce=g.csp_nonce)
    tz = me.clinic.timezone if me.clinic is not None else "UTC"
    return render_template("outcomes.html", report=report, chart=chart, tz=tz)
