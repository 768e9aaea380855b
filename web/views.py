"""The ``/inbox`` pages: thin views that call the same services as the API and render."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import NotFound as HttpNotFound

from api.extensions import db, runtime
from api.text import unstorable
from clinical.rules import KINDS, PRIORITIES
from services import (
    auth,
    clinics,
    cohort,
    escalations,
    oncall,
    patients,
    selfreport,
    sessions,
)
from services import overdue as late_work
from services.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited, Unauthorized
from services.pagination import MAX_LIMIT
from store.escalations import STATUSES
from store.models import User
from web import charts, csrf
from web import format as fmt
from web.forms import ActionForm, LoginForm, ReassignForm, ResolveForm

P = ParamSpec("P")
R = TypeVar("R")

bp = Blueprint(
    "web",
    __name__,
    url_prefix="/inbox",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# A signed-in page expires after this long without activity (polling is not activity).
IDLE_TIMEOUT = timedelta(minutes=15)
STAFF_ROLES = ("clinician",)
INBOX_ROWS = 50
# How often the inbox asks for new rows; the contract promises a new escalation in 15 s.
POLL_SECONDS = 5
RECENT_REPORTS = 10
WEB_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def _now() -> datetime:
    return runtime().clock.now()


class Unstorable(Exception):
    """Text with a NUL or a lone surrogate: no database can store or compare it."""


@bp.before_request
def _before() -> None:
    g.csp_nonce = charts.new_nonce()
    g.now = _now()
    fields = [*request.args.items(multi=True), *request.form.items(multi=True)]
    if any(unstorable(key) or unstorable(value) for key, value in fields):
        raise Unstorable
    if request.method == "POST":
        csrf.protect()


@bp.after_request
def _after(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = WEB_CSP.format(nonce=g.get("csp_nonce", ""))
    if request.endpoint != "web.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_global()
def csp_nonce() -> str:
    return str(g.get("csp_nonce", ""))


bp.add_app_template_filter(fmt.label, "label")
bp.add_app_template_filter(fmt.signed, "signed")
bp.add_app_template_filter(fmt.local, "local")
bp.add_app_template_filter(fmt.local_date, "local_date")


@bp.app_template_filter("age")
def _age(moment: datetime) -> str:
    return fmt.age(g.now - moment)


# --- Signing in ---------------------------------------------------------------------------


class SignInNeeded(Exception):
    """No live session: pages send the browser to the login form."""


def _viewer(*, activity: bool) -> User:
    session_id, user_id = session.get("sid"), session.get("uid")
    if not isinstance(session_id, str) or not isinstance(user_id, int):
        raise SignInNeeded
    try:
        user = auth.resume_session(
            db(),
            session_id=session_id,
            user_id=user_id,
            now=g.now,
            idle=IDLE_TIMEOUT if activity else None,
        )
    except Unauthorized:
        raise SignInNeeded from None
    if user.role not in STAFF_ROLES:
        raise SignInNeeded
    return user


def signed_in(*, activity: bool = True) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Require a live clinician session; ``activity=False`` for polling, which never extends it."""

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            g.viewer = _viewer(activity=activity)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def viewer() -> User:
    user: User = g.viewer
    return user


def _safe_next(target: str | None) -> str | None:
    """Only a path of this app: never another origin (an open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/inbox") or "\\" in target:
        return None
    return target


@bp.errorhandler(SignInNeeded)
def _sign_in(_error: SignInNeeded) -> Response:
    session.clear()
    if request.endpoint == "web.inbox_rows":
        return Response("Your session has ended.", status=401, mimetype="text/plain")
    target = request.full_path if request.method == "GET" else None
    location = url_for("web.login", next=_safe_next(target.rstrip("?") if target else None))
    return redirect(location, 303)  # type: ignore[return-value]


def _error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("error.html", title=title, message=message, status=status), status


@bp.errorhandler(NotFound)
@bp.errorhandler(HttpNotFound)
def _not_found(_error: Exception) -> tuple[str, int]:
    return _error_page(404, "Not found", "There is no such page or record in your clinic.")


@bp.errorhandler(CSRFError)
def _csrf(_error: CSRFError) -> tuple[str, int]:
    return _error_page(
        400,
        "Form refused",
        "The form was missing its security token or it had expired. "
        "Go back, reload the page and try again.",
    )


@bp.errorhandler(Unstorable)
def _unstorable(_error: Unstorable) -> tuple[str, int]:
    return _error_page(
        400, "Form refused", "Text must not contain NUL characters or unpaired surrogates."
    )


@bp.errorhandler(Forbidden)
def _forbidden(error: Forbidden) -> tuple[str, int]:
    return _error_page(403, "Not allowed", error.detail)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    next_url = _safe_next(request.args.get("next"))
    if request.method == "GET":
        return render_template("login.html", form=form, next_url=next_url)
    try:
        result = auth.login(
            db(),
            username=form.username.data or "",
            password=form.password.data or "",
            client_ip=request.remote_addr or "unknown",
            now=g.now,
            lifetime=IDLE_TIMEOUT,
            roles=STAFF_ROLES,
        )
    except Unauthorized as error:
        g.keep_changes = True  # the failed attempt counts toward the throttle
        return render_template("login.html", form=form, error=error.detail, next_url=next_url), 401
    except Forbidden as error:
        return render_template("login.html", form=form, error=error.detail, next_url=next_url), 403
    except RateLimited as error:
        page = render_template("login.html", form=form, error=error.detail, next_url=next_url)
        return page, 429, {"Retry-After": str(error.retry_after)}
    session.clear()
    session["sid"] = result.session_id
    session["uid"] = result.user.id
    return redirect(next_url or url_for("web.inbox"), 303)


@bp.post("/logout")
def logout() -> Any:
    session_id = session.get("sid")
    if isinstance(session_id, str):
        auth.logout(db(), session_id=session_id, now=g.now)
    session.clear()
    flash("You have signed out.")
    return redirect(url_for("web.login"), 303)


# --- The inbox ----------------------------------------------------------------------------


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
            limit=INBOX_ROWS,
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


# --- One escalation -----------------------------------------------------------------------


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


# --- The clinic's cohort outcomes ---------------------------------------------------------


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


# --- Patients -----------------------------------------------------------------------------


@bp.get("/patients")
@signed_in()
def patient_list() -> Any:
    me = viewer()
    try:
        page = patients.list_patients(
            db(), viewer=me, limit=INBOX_ROWS, cursor=request.args.get("cursor") or None
        )
    except Invalid as error:
        return _error_page(422, "Bad page link", " ".join(error.errors.get("cursor", [])))
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


@bp.route("/<path:_unknown>")
def unknown(_unknown: str) -> Any:
    """Any other path under /inbox: the web app's own 404 page, not a JSON problem."""
    abort(404)
