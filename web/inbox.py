"""The inbox: the clinic's escalations, filtered, and the rows its page polls for."""

from __future__ import annotations

from typing import Any

from flask import g, render_template, request

from api.extensions import db
from clinical.rules import KINDS, PRIORITIES
from services import escalations, oncall, patients
from services.errors import Invalid
from store.escalations import STATUSES
from web.blueprint import PAGE_ROWS, bp
from web.signin import signed_in, viewer

# How often the inbox asks for new rows; the contract promises a new escalation in 15 s.
POLL_SECONDS = 5


def _inbox_filters() -> dict[str, Any]:
    values: dict[str, Any] = {
        name: request.args.get(name) or None for name in ("status", "priority", "kind")
    }
    values["mine"] = request.args.get("mine") == "1"
    return values


def _inbox_rows() -> dict[str, Any]:
    filters = _inbox_filters()
    me = viewer()
    try:
        page = escalations.list_escalations(
            db(),
            viewer=me,
            now=g.now,
            limit=PAGE_ROWS,
            cursor=request.args.get("cursor") or None,
            status=filters["status"],
            priority=filters["priority"],
            kind=filters["kind"],
            assigned_to=me.id if filters["mine"] else None,
        )
    except Invalid as error:
        return {
            "filters": filters,
            "rows": [],
            "names": {},
            "next_cursor": None,
            "errors": error.errors,
        }
    names = patients.patient_names(db(), viewer=me, patient_ids=[e.patient_id for e in page.items])
    return {
        "filters": filters,
        "rows": page.items,
        "names": names,
        "next_cursor": page.next_cursor,
        "errors": {},
    }


@bp.get("/")
@signed_in()
def inbox() -> Any:
    listing = _inbox_rows()
    me = viewer()
    assert me.clinic_id is not None
    on_call = oncall.who_is_on_call(db(), clinic_id=me.clinic_id, at=g.now)
    return render_template(
        "inbox.html",
        **listing,
        on_call=on_call,
        clinic_tz=me.clinic.timezone if me.clinic is not None else "UTC",
        statuses=STATUSES,
        priorities=PRIORITIES,
        kinds=KINDS,
        poll_seconds=POLL_SECONDS,
    ), (422 if listing["errors"] else 200)


@bp.get("/rows")
@signed_in(activity=False)
def inbox_rows() -> Any:
    """The inbox's rows alone, for the page's polling script."""
    listing = _inbox_rows()
    return render_template("_rows.html", **listing), (422 if listing["errors"] else 200)
