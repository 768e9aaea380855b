"""Authorization matrix: every endpoint x every kind of caller x own/foreign resource.

Callers: anonymous, patient A and patient B (clinic X), a clinician of clinic X, a clinician
of clinic Y, and the admin. Resources: "A" belongs to patient A / clinic X, "C" to patient C /
clinic Y. Each cell states the exact status. ``test_every_endpoint_has_a_row`` enumerates the
app's URL map and fails for any endpoint without a row, so a new endpoint cannot ship
without its authorization being written down here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from clinical.rules import Flag
from services.runtime import Runtime
from store.models import PatientProfile
from tests.support.world import World, patient_body

CALLERS = ("anonymous", "patient_a", "patient_b", "clinician_x", "clinician_y", "admin")
USERNAMES = {
    "patient_a": World.pa_phone,
    "patient_b": World.pb_phone,
    "clinician_x": World.cx1,
    "clinician_y": World.cy1,
    "admin": World.admin,
}
# Endpoints that are not part of the API surface.
NOT_API = {"static", "api-docs.openapi_json", "api-docs.openapi_swagger_ui"}
# The /inbox web pages are not API (cookie session, HTML): tests/web/test_web_matrix.py
# holds their own role x clinic matrix.
NOT_API |= {
    "web.static",
    "web.login",
    "web.logout",
    "web.inbox",
    "web.inbox_rows",
    "web.escalation",
    "web.acknowledge",
    "web.resolve",
    "web.reassign",
    "web.patient_list",
    "web.outcomes",
    "web.patient",
    "web.unknown",
}


@dataclass
class Ctx:
    """What a row needs to build its request: the world, its resources, the cell."""

    world: World
    rt: Runtime
    caller: str
    resource: str  # "A", "C" or "" for endpoints without a resource
    serial: int
    escalations: dict[str, int] = field(default_factory=dict)

    def patient(self) -> int:
        return self.world.patient_a if self.resource == "A" else self.world.patient_c_y

    def clinic(self) -> int:
        return self.world.clinic_x if self.resource == "A" else self.world.clinic_y

    def escalation(self) -> int:
        return self.escalations[self.resource]

    def now_iso(self, minutes_ago: int = 5) -> str:
        return (self.rt.clock.now() - timedelta(minutes=minutes_ago)).isoformat()


Body = Callable[[Ctx], dict[str, Any] | None]


@dataclass(frozen=True)
class Row:
    method: str
    rule: str
    expect: dict[str, int]
    path: Callable[[Ctx], str] | None = None
    body: Body | None = None
    refresh_token: bool = False
    needs_escalations: bool = False
    form: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.rule)


def same(status: int) -> dict[str, int]:
    """Everyone, authenticated or not, gets ``status`` (public endpoints)."""
    return {c: status for c in CALLERS}


def roles(
    *, anonymous: int = 401, patient: int = 403, clinician: int = 403, admin: int = 403
) -> dict[str, int]:
    """An endpoint without a resource: the status by role."""
    return {
        "anonymous": anonymous,
        "patient_a": patient,
        "patient_b": patient,
        "clinician_x": clinician,
        "clinician_y": clinician,
        "admin": admin,
    }


def owned(
    *,
    by_clinic: int,
    foreign: int = 404,
    patient: int = 403,
    admin: int = 403,
    patient_own: int | None = None,
) -> dict[str, int]:
    """A resource of clinic X (A) or Y (C): clinicians see their own clinic's only."""
    return {
        "anonymous:A": 401,
        "anonymous:C": 401,
        "patient_a:A": patient if patient_own is None else patient_own,
        "patient_a:C": patient,
        "patient_b:A": patient,
        "patient_b:C": patient,
        "clinician_x:A": by_clinic,
        "clinician_x:C": foreign,
        "clinician_y:A": foreign,
        "clinician_y:C": by_clinic,
        "admin:A": admin,
        "admin:C": admin,
    }


def _phq9(ctx: Ctx) -> dict[str, Any]:
    return {"answers": [1, 1, 1, 1, 1, 1, 1, 1, 0], "difficulty": 1}


def _symptoms(ctx: Ctx) -> dict[str, Any]:
    names = (
        "dissociation",
        "perceptual_disturbances",
        "confusion",
        "agitation",
        "nausea",
        "headache",
        "scalp_pain",
        "dizziness",
        "drowsiness",
        "blurred_vision",
        "bladder_pain",
        "urinary_urgency",
    )
    return {
        "symptoms": dict.fromkeys(names, 0),
        "asrm": [0, 0, 0, 0, 0],
        "suicidal_thoughts": 0,
        "seizure": False,
        "fainted": False,
    }


def _session(ctx: Ctx) -> dict[str, Any]:
    return {
        "started_at": ctx.now_iso(60),
        "ketamine_mg_per_kg": 0.5,
        "ketamine_infusion_minutes": 40,
        "tms_minutes": 20,
        "vitals": [{"at": ctx.now_iso(50), "systolic": 120, "diastolic": 80, "heart_rate": 70}],
    }


def _new_patient(ctx: Ctx) -> dict[str, Any]:
    team = [ctx.world.clinician_x1 if ctx.caller != "clinician_y" else ctx.world.clinician_y1]
    return patient_body(
        name=f"New {ctx.serial}", phone=f"+120255501{60 + ctx.serial:02d}", care_team=team
    )


def _new_clinician(ctx: Ctx) -> dict[str, Any]:
    return {
        "clinic_id": ctx.world.clinic_x,
        "name": f"Dr {ctx.serial}",
        "email": f"new{ctx.serial}@tandem.test",
        "phone": f"+120255501{80 + ctx.serial:02d}",
        "password": World.PASSWORD,
        "on_call_tier": 2,
    }


def _reassign(ctx: Ctx) -> dict[str, Any]:
    return {
        "clinician_id": ctx.world.clinician_x2 if ctx.resource == "A" else ctx.world.clinician_y1
    }


def _live_session(ctx: Ctx) -> int:
    """A fresh live session of the resource's patient, opened by a clinician of its clinic."""
    from services import sessions
    from store.models import User

    opener_id = ctx.world.clinician_x1 if ctx.resource == "A" else ctx.world.clinician_y1
    with ctx.rt.database.unit_of_work() as session:
        opener = session.get(User, opener_id)
        assert opener is not None
        recorded = sessions.record_session(
            session,
            clinician=opener,
            patient_id=ctx.patient(),
            data={
                "status": "in_progress",
                "started_at": ctx.rt.clock.now() - timedelta(minutes=10 + ctx.serial),
                "ketamine_mg_per_kg": 0.5,
                "ketamine_infusion_minutes": 40,
                "tms_minutes": 30,
                "vitals": None,
            },
            now=ctx.rt.clock.now(),
        )
        return recorded.record.id


def _item9_reask(ctx: Ctx) -> dict[str, Any]:
    """A task asking item 9 again: the calling patient's own, after a skipped item 9."""
    from sqlalchemy import select

    from services import selfreport
    from store.models import User
    from store.schedule import Task

    if ctx.caller not in ("patient_a", "patient_b"):
        return {"task_id": 1, "item9": 0}
    patient_id = ctx.world.patient_a if ctx.caller == "patient_a" else ctx.world.patient_b
    with ctx.rt.database.unit_of_work() as session:
        patient = session.get(User, patient_id)
        assert patient is not None
        result = selfreport.submit_phq9(
            session, patient=patient, answers=[1] * 8 + [None], now=ctx.rt.clock.now()
        )
        task_id = session.scalar(
            select(Task.id).where(Task.key == f"item9_reask:{result.record.id}")
        )
    return {"task_id": task_id, "item9": 0}


P = "/api/v1"
ROWS: tuple[Row, ...] = (
    # Health and the public auth endpoints: the same answer with or without a token.
    Row("GET", "/healthz", same(200)),
    Row("GET", "/readyz", same(200)),
    Row(
        "POST",
        f"{P}/auth/login",
        same(200),
        body=lambda c: {"username": World.admin, "password": World.PASSWORD},
    ),
    Row(
        "POST",
        f"{P}/auth/activate",
        same(401),
        body=lambda c: {"phone": World.pa_phone, "code": "000000", "password": World.PASSWORD},
    ),
    Row(
        "POST",
        f"{P}/auth/refresh",
        roles(patient=200, clinician=200, admin=200),
        refresh_token=True,
    ),
    Row("POST", f"{P}/auth/logout", roles(patient=204, clinician=204, admin=204)),
    # Admin: clinics and clinicians.
    Row("GET", f"{P}/clinics", roles(admin=200)),
    Row(
        "POST",
        f"{P}/clinics",
        roles(admin=201),
        body=lambda c: {"name": f"Clinic {c.serial}", "timezone": "America/Chicago"},
    ),
    Row(
        "GET",
        f"{P}/clinics/<int:clinic_id>",
        owned(by_clinic=200, admin=200),
        path=lambda c: f"{P}/clinics/{c.clinic()}",
    ),
    Row(
        "PATCH",
        f"{P}/clinics/<int:clinic_id>",
        {**owned(by_clinic=403, foreign=403, admin=200)},
        path=lambda c: f"{P}/clinics/{c.clinic()}",
        body=lambda c: {"name": f"Renamed {c.serial}"},
    ),
    Row("GET", f"{P}/clinicians", roles(clinician=200, admin=200)),
    Row("POST", f"{P}/clinicians", roles(admin=201), body=_new_clinician),
    # Clinicians: patients of their own clinic only; other clinics' records are 404.
    Row("GET", f"{P}/patients", roles(clinician=200)),
    Row("POST", f"{P}/patients", roles(clinician=201), body=_new_patient),
    Row(
        "GET",
        f"{P}/patients/<int:patient_id>",
        owned(by_clinic=200),
        path=lambda c: f"{P}/patients/{c.patient()}",
    ),
    Row(
        "PATCH",
        f"{P}/patients/<int:patient_id>",
        owned(by_clinic=200),
        path=lambda c: f"{P}/patients/{c.patient()}",
        body=lambda c: {"maintenance_interval_days": 4},
    ),
    Row(
        "POST",
        f"{P}/patients/<int:patient_id>/activation",
        owned(by_clinic=202),
        path=lambda c: f"{P}/patients/{c.patient()}/activation",
    ),
    Row(
        "GET",
        f"{P}/patients/<int:patient_id>/checkins",
        owned(by_clinic=200),
        path=lambda c: f"{P}/patients/{c.patient()}/checkins",
    ),
    Row(
        "GET",
        f"{P}/patients/<int:patient_id>/symptom-reports",
        owned(by_clinic=200),
        path=lambda c: f"{P}/patients/{c.patient()}/symptom-reports",
    ),
    Row(
        "GET",
        f"{P}/patients/<int:patient_id>/sessions",
        owned(by_clinic=200),
        path=lambda c: f"{P}/patients/{c.patient()}/sessions",
    ),
    Row(
        "POST",
        f"{P}/patients/<int:patient_id>/sessions",
        owned(by_clinic=201),
        path=lambda c: f"{P}/patients/{c.patient()}/sessions",
        body=_session,
    ),
    # Escalation inbox: clinicians of the escalation's clinic.
    Row("GET", f"{P}/escalations", roles(clinician=200)),
    Row(
        "GET",
        f"{P}/escalations/<int:escalation_id>",
        owned(by_clinic=200),
        path=lambda c: f"{P}/escalations/{c.escalation()}",
        needs_escalations=True,
    ),
    Row(
        "POST",
        f"{P}/escalations/<int:escalation_id>/acknowledge",
        owned(by_clinic=200),
        path=lambda c: f"{P}/escalations/{c.escalation()}/acknowledge",
        needs_escalations=True,
    ),
    Row(
        "POST",
        f"{P}/escalations/<int:escalation_id>/resolve",
        owned(by_clinic=200),
        path=lambda c: f"{P}/escalations/{c.escalation()}/resolve",
        body=lambda c: {"note": "Called the patient; safe."},
        needs_escalations=True,
    ),
    Row(
        "POST",
        f"{P}/escalations/<int:escalation_id>/reassign",
        owned(by_clinic=200),
        path=lambda c: f"{P}/escalations/{c.escalation()}/reassign",
        body=_reassign,
        needs_escalations=True,
    ),
    # Patient self-report: patients only, always about themselves.
    Row("POST", f"{P}/checkins/phq9", roles(patient=201), body=_phq9),
    Row("POST", f"{P}/symptom-reports", roles(patient=201), body=_symptoms),
    Row("GET", f"{P}/me", roles(patient=200)),
    Row("GET", f"{P}/me/checkins", roles(patient=200)),
    Row("GET", f"{P}/me/symptom-reports", roles(patient=200)),
    Row("GET", f"{P}/me/tasks", roles(patient=200)),
    # Twilio webhooks: only a valid X-Twilio-Signature opens them; a bearer token does not.
    Row(
        "POST",
        "/webhooks/twilio/sms",
        same(403),
        form=True,
        body=lambda c: {"From": World.pa_phone, "Body": "STOP", "MessageSid": "SM" + "0" * 32},
    ),
    Row(
        "POST",
        "/webhooks/twilio/status",
        same(403),
        form=True,
        body=lambda c: {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"},
    ),
    # Problem-type pages: public documentation, the same for everyone.
    Row("GET", "/problems/", same(200)),
    Row("GET", "/problems/<slug>", same(200), path=lambda c: "/problems/validation-failed"),
    # Issue 13: on-call schedules (the clinic's clinicians and admins), a clinician's own
    # settings (themself or an admin), and the signed voice webhooks.
    Row(
        "GET",
        f"{P}/clinics/<int:clinic_id>/on-call",
        owned(by_clinic=200, admin=200),
        path=lambda c: f"{P}/clinics/{c.clinic()}/on-call",
    ),
    Row(
        "PUT",
        f"{P}/clinics/<int:clinic_id>/on-call",
        owned(by_clinic=200, admin=200),
        path=lambda c: f"{P}/clinics/{c.clinic()}/on-call",
        body=lambda c: {
            "tiers": {
                "1": {
                    "rotation": [
                        c.world.clinician_x1 if c.resource == "A" else c.world.clinician_y1
                    ],
                    "handoff": "08:00",
                    "length_days": 7,
                    "starts_on": "2026-11-02",
                }
            },
            "overrides": [],
        },
    ),
    Row(
        "PATCH",
        f"{P}/clinicians/<int:clinician_id>",
        owned(by_clinic=200, admin=200),
        path=lambda c: (
            f"{P}/clinicians/{c.world.clinician_x1 if c.resource == 'A' else c.world.clinician_y1}"
        ),
        body=lambda c: {"name": f"Dr {c.serial}"},
    ),
    Row(
        "POST",
        "/webhooks/twilio/voice",
        same(403),
        form=True,
        body=lambda c: {"CallSid": "CA" + "0" * 32, "Digits": "1"},
    ),
    Row(
        "POST",
        "/webhooks/twilio/voice/status",
        same(403),
        form=True,
        body=lambda c: {"CallSid": "CA" + "0" * 32, "CallStatus": "no-answer"},
    ),
    # Clinical rules v2: live sessions (clinicians of the session's clinic) and item 9 re-asks.
    Row(
        "GET",
        f"{P}/sessions/<int:session_id>",
        owned(by_clinic=200),
        path=lambda c: f"{P}/sessions/{_live_session(c)}",
    ),
    Row(
        "POST",
        f"{P}/sessions/<int:session_id>/vitals",
        owned(by_clinic=201),
        path=lambda c: f"{P}/sessions/{_live_session(c)}/vitals",
        body=lambda c: {"at": c.now_iso(1), "systolic": 120, "diastolic": 80, "heart_rate": 70},
    ),
    Row(
        "POST",
        f"{P}/sessions/<int:session_id>/end",
        owned(by_clinic=200),
        path=lambda c: f"{P}/sessions/{_live_session(c)}/end",
        body=lambda c: {},
    ),
    Row("POST", f"{P}/checkins/phq9-item9", roles(patient=201), body=_item9_reask),
    # Accounts (boundary lane): any signed-in user changes their own password.
    Row(
        "POST",
        f"{P}/auth/password",
        roles(patient=204, clinician=204, admin=204),
        body=lambda c: {"current_password": World.PASSWORD, "new_password": World.PASSWORD},
    ),
    # Only an admin deactivates; clinician x3 is no caller here, so the others still sign in.
    Row(
        "POST",
        "/api/v1/clinicians/<int:clinician_id>/deactivate",
        roles(admin=200),
        path=lambda c: f"{P}/clinicians/{c.world.clinician_x3}/deactivate",
    ),
    Row("GET", f"{P}/audit", roles(admin=200)),
    # Operations (issue 9): the docs' own assets are public; /metrics has its own token
    # (tests/ops/test_metrics.py) and is absent from this app, which sets none.
    Row(
        "GET",
        "/docs/assets/<path:filename>",
        same(200),
        path=lambda c: "/docs/assets/swagger-ui.css",
    ),
    Row("GET", "/metrics", same(404)),
    # Cohort outcomes: clinicians of the clinic and admins.
    Row(
        "GET",
        f"{P}/clinics/<int:clinic_id>/outcomes",
        owned(by_clinic=200, admin=200),
        path=lambda c: f"{P}/clinics/{c.clinic()}/outcomes",
    ),
    # FHIR R4 (answers OperationOutcome): clinicians of the clinic; metadata is public.
    Row("GET", "/fhir/R4/metadata", same(200)),
    Row("GET", "/fhir/R4/<path:rest>", same(400), path=lambda c: "/fhir/R4/Medication"),
    Row("GET", "/fhir/R4/Questionnaire", roles(clinician=200)),
    Row(
        "GET",
        "/fhir/R4/Questionnaire/<qid>",
        roles(clinician=200),
        path=lambda c: "/fhir/R4/Questionnaire/phq-9",
    ),
    Row("GET", "/fhir/R4/Patient", roles(clinician=200)),
    Row(
        "GET",
        "/fhir/R4/Patient/<pid>",
        owned(by_clinic=200),
        path=lambda c: f"/fhir/R4/Patient/{c.patient()}",
    ),
    Row(
        "GET",
        "/fhir/R4/Patient/<pid>/$everything",
        owned(by_clinic=200),
        path=lambda c: f"/fhir/R4/Patient/{c.patient()}/$everything",
    ),
    Row(
        "GET",
        "/fhir/R4/Observation",
        owned(by_clinic=200),
        path=lambda c: f"/fhir/R4/Observation?patient={c.patient()}",
    ),
    Row(
        "GET",
        "/fhir/R4/Observation/<oid>",
        owned(by_clinic=404),
        path=lambda c: "/fhir/R4/Observation/phq9-999999",
    ),
    Row(
        "GET",
        "/fhir/R4/QuestionnaireResponse",
        owned(by_clinic=200),
        path=lambda c: f"/fhir/R4/QuestionnaireResponse?patient={c.patient()}",
    ),
    Row(
        "GET",
        "/fhir/R4/QuestionnaireResponse/<rid>",
        owned(by_clinic=404),
        path=lambda c: "/fhir/R4/QuestionnaireResponse/phq9-999999",
    ),
    # Without "Prefer: respond-async" a kick-off is a 400 (the 202 is in tests/fhir).
    Row("GET", "/fhir/R4/$export", roles(clinician=400)),
    Row(
        "GET",
        "/fhir/R4/$export-status/<job_id>",
        roles(clinician=404),
        path=lambda c: "/fhir/R4/$export-status/" + "0" * 32,
    ),
    Row(
        "DELETE",
        "/fhir/R4/$export-status/<job_id>",
        roles(clinician=404),
        path=lambda c: "/fhir/R4/$export-status/" + "0" * 32,
    ),
    Row(
        "GET",
        "/fhir/R4/$export-file/<job_id>/<resource>.ndjson",
        roles(clinician=404),
        path=lambda c: "/fhir/R4/$export-file/" + "0" * 32 + "/Patient.ndjson",
    ),
)
ROW_KEYS = {row.key for row in ROWS}


def api_endpoints(app: Flask) -> set[tuple[str, str]]:
    """(METHOD, rule) for every endpoint the app serves, docs and static files aside."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_API:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.add((method, rule.rule))
    return found


def test_every_endpoint_has_a_row(app: Flask) -> None:
    missing = sorted(api_endpoints(app) - ROW_KEYS)
    assert not missing, "endpoints without an authorization row: " + ", ".join(
        f"{m} {r}" for m, r in missing
    )


def _raise_test_escalations(rt: Runtime, world: World) -> dict[str, int]:
    from services.escalations import raise_escalations

    flag = Flag(kind="worsening", priority="routine", rule="authz-matrix", evidence={})
    ids = {}
    with rt.database.unit_of_work() as session:
        for resource, patient_id in (("A", world.patient_a), ("C", world.patient_c_y)):
            profile = session.get(PatientProfile, patient_id)
            assert profile is not None
            refs = raise_escalations(
                session,
                patient=profile,
                flags=[flag],
                source_type="phq9",
                source_id=None,
                now=rt.clock.now(),
            )
            ids[resource] = refs[0].id
    return ids


def _token(client: FlaskClient, caller: str, *, refresh: bool) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    response = client.post(
        f"{P}/auth/login", json={"username": USERNAMES[caller], "password": World.PASSWORD}
    )
    assert response.status_code == 200, response.get_json()
    token = response.get_json()["refresh_token" if refresh else "access_token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.method} {r.rule}" for r in ROWS])
def test_row(row: Row, app: Flask, client: FlaskClient, rt: Runtime, world: World) -> None:
    if row.key not in api_endpoints(app):
        # Only an endpoint this app leaves unregistered on purpose (/metrics without a
        # METRICS_TOKEN) may have a row without a route, and then it must be 404 for all.
        assert set(row.expect.values()) == {404}, f"stale row: {row.method} {row.rule}"
    escalations = _raise_test_escalations(rt, world) if row.needs_escalations else {}
    wrong = []
    for serial, (cell, expected) in enumerate(row.expect.items()):
        caller, _, resource = cell.partition(":")
        ctx = Ctx(
            world=world,
            rt=rt,
            caller=caller,
            resource=resource,
            serial=serial,
            escalations=escalations,
        )
        url = row.path(ctx) if row.path else row.rule
        body = row.body(ctx) if row.body else None
        headers = _token(client, caller, refresh=row.refresh_token)
        if row.form:
            response = client.open(url, method=row.method, data=body, headers=headers)
        else:
            response = client.open(url, method=row.method, json=body, headers=headers)
        if response.status_code != expected:
            wrong.append(
                f"{cell}: expected {expected}, got {response.status_code} "
                f"{response.get_data(as_text=True)[:200]}"
            )
        if response.status_code >= 400:
            # The FHIR door answers its errors as OperationOutcome (application/fhir+json).
            error_type = "application/fhir+json" if url.startswith("/fhir/") else None
            assert response.mimetype in {"application/problem+json", error_type}, cell
    assert not wrong, f"{row.method} {row.rule}\n" + "\n".join(wrong)
