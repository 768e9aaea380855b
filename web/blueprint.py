"""The one ``/inbox`` blueprint: its request hooks, template filters and error pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, g, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import NotFound as HttpNotFound

from api.extensions import runtime
from api.text import unstorable
from services.errors import Forbidden, NotFound
from web import charts, csrf
from web import format as fmt

bp = Blueprint(
    "web",
    __name__,
    url_prefix="/inbox",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# One page of a list: the inbox's rows, the patients.
PAGE_ROWS = 50
WEB_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


class Unstorable(Exception):
    """Text with a NUL or a lone surrogate: no database can store or compare it."""


@bp.before_request
def _before() -> None:
    g.csp_nonce = charts.new_nonce()
    g.now = runtime().clock.now()
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


# --- Error pages --------------------------------------------------------------------------


def error_page(status: int, title: str, message: str) -> tuple[str, int]:
    """The web app's own error page (never a JSON problem) with ``status``."""
    return render_template("error.html", title=title, message=message, status=status), status


@bp.errorhandler(NotFound)
@bp.errorhandler(HttpNotFound)
def _not_found(_error: Exception) -> tuple[str, int]:
    return error_page(404, "Not found", "There is no such page or record in your clinic.")


@bp.errorhandler(CSRFError)
def _csrf(_error: CSRFError) -> tuple[str, int]:
    return error_page(
        400,
        "Form refused",
        "The form was missing its security token or it had expired. "
        "Go back, reload the page and try again.",
    )


@bp.errorhandler(Unstorable)
def _unstorable(_error: Unstorable) -> tuple[str, int]:
    return error_page(
        400, "Form refused", "Text must not contain NUL characters or unpaired surrogates."
    )


@bp.errorhandler(Forbidden)
def _forbidden(error: Forbidden) -> tuple[str, int]:
    return error_page(403, "Not allowed", error.detail)


@bp.route("/<path:_unknown>")
def unknown(_unknown: str) -> Any:
    """Any other path under /inbox: the web app's own 404 page, not a JSON problem."""
    abort(404)
