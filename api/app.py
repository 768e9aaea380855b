"""The Flask application factory."""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from werkzeug.datastructures import MultiDict

from api.docs import DOCS_CSP, register_docs
from api.errors import problem, register_errorhandlers
from api.extensions import init_extensions, register_unit_of_work
from api.text import holds_unstorable, unstorable
from config import Settings, load_settings
from services.runtime import Runtime

API_TITLE = "Tandem"
API_VERSION = "v1"
JSON_TYPES = ("application/json",)
# Webhooks take Twilio's form posts; everything else under /api takes JSON only.
JSON_ONLY_PREFIX = "/api/"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def create_app(settings: Settings | None = None, *, rt: Runtime | None = None) -> Flask:
    """Build the app; tests pass their own settings or a runtime with a controlled clock."""
    if rt is None:
        rt = Runtime.from_settings(settings or load_settings())
    settings = rt.settings
    app = Flask("tandem", instance_path=str(settings.instance_path))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        JWT_SECRET_KEY=settings.jwt_secret_key,
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ERROR_MESSAGE_KEY="detail",
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        TESTING=settings.env == "test",
        API_TITLE=API_TITLE,
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        # Any value registers flask-smorest's /docs route; api/docs serves the page itself
        # from the swagger-ui-bundle package, so nothing is loaded from a CDN.
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",
        API_SPEC_OPTIONS={
            "info": {
                "description": "Check-ins, schedules, reminders and clinician escalation for "
                "a combined IV-ketamine + TMS course. Errors are RFC 9457 problem documents.",
            },
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                }
            },
        },
    )
    logging.getLogger("tandem").setLevel(settings.log_level)
    api = init_extensions(app, rt)
    register_blueprints(api)
    register_pages(app)
    register_docs(app)
    from fhir_r4.views import register as register_fhir

    register_fhir(app)
    register_errorhandlers(app)
    # Guards before the unit of work: after_request hooks run in reverse, so the security
    # headers also reach the 409/503 the unit of work answers when its commit fails.
    register_request_guards(app)
    register_unit_of_work(app)
    register_operations(app, rt)
    from web import init_web

    init_web(app, settings)
    return app


def register_operations(app: Flask, rt: Runtime) -> None:
    """Request ids, the trusted-proxy fix-up and the metrics endpoint (issue 9)."""
    from api.logs import register_request_ids

    # The request id is taken before any other hook may log or refuse.
    register_request_ids(app)
    app.before_request_funcs.setdefault(None, [])
    hooks = app.before_request_funcs[None]
    hooks.insert(0, hooks.pop())
    from api.metrics import register_metrics

    register_metrics(app, rt)
    if rt.settings.trusted_proxy_count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = rt.settings.trusted_proxy_count
        # Only as many X-Forwarded-For / -Proto hops as there are proxies of our own: the
        # client's address is what the nearest untrusted hop was seen from.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=count, x_proto=count, x_host=0, x_port=0, x_prefix=0
        )


def register_blueprints(api: object) -> None:
    from api.auth.views import blp as auth_blp
    from api.checkins.views import blp as checkins_blp
    from api.clinics.views import blp as clinics_blp
    from api.escalations.views import blp as escalations_blp
    from api.health.views import blp as health_blp
    from api.history.views import blp as history_blp
    from api.me.views import blp as me_blp
    from api.patients.views import blp as patients_blp
    from api.sessions.views import blp as sessions_blp
    from api.tasks.views import blp as tasks_blp
    from api.webhooks.views import blp as webhooks_blp

    for blueprint in (
        health_blp,
        auth_blp,
        clinics_blp,
        patients_blp,
        escalations_blp,
        webhooks_blp,
    ):
        api.register_blueprint(blueprint)  # type: ignore[attr-defined]
    for blueprint in (checkins_blp, me_blp, history_blp):
        api.register_blueprint(blueprint)  # type: ignore[attr-defined]
    for blueprint in (sessions_blp, tasks_blp):
        api.register_blueprint(blueprint)  # type: ignore[attr-defined]
    # Issue 13: on-call schedules, clinicians' settings, voice webhooks.
    from api.oncall.views import blp as oncall_blp
    from api.webhooks.voice import blp as voice_blp

    for blueprint in (oncall_blp, voice_blp):
        api.register_blueprint(blueprint)  # type: ignore[attr-defined]

    from api.checkins.item9 import blp as item9_blp
    from api.sessions.views import live_blp

    api.register_blueprint(live_blp)  # type: ignore[attr-defined]
    api.register_blueprint(item9_blp)  # type: ignore[attr-defined]

    from api.audit.views import blp as audit_blp

    api.register_blueprint(audit_blp)  # type: ignore[attr-defined]

    from api.outcomes.views import blp as outcomes_blp

    api.register_blueprint(outcomes_blp)  # type: ignore[attr-defined]


def register_pages(app: Flask) -> None:
    """HTML pages outside the JSON API: what each problem type means."""
    from api.problems.views import bp as problems_bp

    app.register_blueprint(problems_bp)


UNSTORABLE_DETAIL = "Text must not contain NUL characters or unpaired surrogates."
UNSTORABLE_MESSAGE = "Must not contain NUL characters or unpaired surrogates."


def register_request_guards(app: Flask) -> None:
    """415 for a non-JSON body on the JSON API; security headers on every response."""
    from api.checkins.views import read_crisis_answers
    from api.safety import register_safety_net

    # First of all: crisis resources must ride on whatever refusal the guards give.
    app.before_request(read_crisis_answers)
    # Registered before the unit of work, so it runs after it (after_request runs reversed).
    register_safety_net(app)

    @app.before_request
    def _require_json() -> Response | None:
        if (
            request.method in {"POST", "PUT", "PATCH"}
            and request.path.startswith(JSON_ONLY_PREFIX)
            and (request.content_length or request.headers.get("Transfer-Encoding"))
            and request.mimetype not in JSON_TYPES
        ):
            return problem(415, "Send the body as application/json.")
        return None

    @app.before_request
    def _refuse_unstorable_text() -> Response | None:
        # PostgreSQL cannot store NUL in text, no driver can encode a lone surrogate, and the
        # JSON parser recurses: refuse all three here as bad input rather than answer 500
        # later. Every door: the JSON API, the form-encoded webhooks and pages, query strings.
        if request.blueprint == "web":
            return None  # the web pages refuse such text themselves, with an HTML page
        for location, values in (("query", request.args), ("form", _form_or_empty())):
            if any(unstorable(k) or unstorable(v) for k, v in values.items(multi=True)):
                return problem(422, UNSTORABLE_DETAIL, errors={location: [UNSTORABLE_MESSAGE]})
        if request.mimetype not in JSON_TYPES:
            return None
        try:
            document = request.get_json(silent=True)
        except RecursionError:
            return problem(400, "The JSON document is nested too deeply.")
        if document is None and request.get_data(cache=True).strip() not in (b"", b"null"):
            # Unreadable as JSON, e.g. a number over Python's 4300-digit limit, which the
            # body parser would raise as a bare ValueError (a 500).
            return problem(400, "The request body is not valid JSON.")
        if holds_unstorable(document):
            return problem(422, UNSTORABLE_DETAIL, errors={"body": [UNSTORABLE_MESSAGE]})
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.path == "/docs" or request.path.startswith("/docs/"):
            response.headers.setdefault("Content-Security-Policy", DOCS_CSP)
        else:
            response.headers.setdefault("Content-Security-Policy", API_CSP)
        if request.path.startswith(JSON_ONLY_PREFIX):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _form_or_empty() -> MultiDict[str, str]:
    """The form fields of a form post (parsed once, as the view would), else nothing."""
    if request.method in {"POST", "PUT", "PATCH"} and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        return request.form
    return MultiDict()
